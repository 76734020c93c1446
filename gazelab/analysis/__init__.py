"""Analysis: saliency metrics and model-vs-human attention comparison (upcoming issue)."""

__all__: list[str] = []
