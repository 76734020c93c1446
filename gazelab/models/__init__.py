"""Models: attention modules and human-attention alignment training (upcoming issue)."""

__all__: list[str] = []
