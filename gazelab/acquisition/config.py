"""Experiment configuration: a YAML file, validated on load with errors naming the field.

Example (every field shown; those with defaults may be left out)::

    name: free-viewing
    screen: {width_px: 1920, height_px: 1080, width_cm: 53.0, height_cm: 30.0,
             distance_cm: 60.0, refresh_hz: 60}
    stimuli: {folder: stimuli/}          # or {files: [a.png, b.mp4]}; relative to this file
                                          # images, and videos (.mp4 .avi .mov .mkv; needs OpenCV,
                                          # the webcam extra): shown for their own length, or
                                          # timing.stimulus_ms if that is shorter
    placement: fit                        # fit | center (native size) | fill
    timing: {fixation_cross_ms: 500, stimulus_ms: 3000, inter_trial_ms: 500}
    order: random                         # random (per participant, seed recorded) | fixed
    seed: null                            # fixes the random order for everyone when set
    instructions: "Look at the pictures freely. Press SPACE to start."
    calibration: {points: 9, validation_threshold_deg: 1.0, max_error_deg: 1.5, max_attempts: 3}
    # calibration.own_validation: true adds gazelab's validation after an EyeLink's own (default false)
    drift_check_every: 5                  # trials; 0 = never
    tracker: {backend: simulated, sampling_rate_hz: 1000, eye: L}
    # webcam backend only: camera index or video file (relative to this file), its frame rate
    #   tracker: {backend: webcam, camera: 0, camera_fps: 30, eye: L}
    # eyelink backend: the Host PC's address (default 100.1.1.1; --tracker-address wins), 'dummy' for
    # pylink's dummy mode, 'replay:PATH' to replay an .asc/.asc.gz/.edf recording (dry runs)
    #   tracker: {backend: eyelink, address: 100.1.1.1, sampling_rate_hz: 1000, eye: R}
    output: sessions/
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gazelab.acquisition.video import INSTALL_HINT, VIDEO_SUFFIXES
from gazelab.errors import GazelabError, ParseError
from gazelab.geometry import Geometry

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "Calibration",
    "ExperimentConfig",
    "Timing",
    "TrackerConfig",
    "is_video",
    "load_config",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def is_video(path: str | Path) -> bool:
    """Whether a stimulus file is a video (by its suffix)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class Timing:
    """Per-trial timing, ms."""

    fixation_cross_ms: float = 500.0
    stimulus_ms: float = 3000.0
    inter_trial_ms: float = 500.0


@dataclass(frozen=True)
class Calibration:
    """Calibration and validation settings."""

    points: int = 9
    validation_threshold_deg: float = 1.0
    max_error_deg: float = 1.5
    max_attempts: int = 3
    #: with an EyeLink: also run gazelab's own validation after the Host's (default: the Host's only)
    own_validation: bool = False


@dataclass(frozen=True)
class TrackerConfig:
    """Which tracker and how it records."""

    backend: str = "simulated"
    sampling_rate_hz: float = 1000.0
    eye: str = "L"
    #: webcam backend: camera index, or a video file path (resolved against the YAML's folder)
    camera: int | str = 0
    #: webcam backend: frame rate asked of the camera, Hz (a video file plays at its own)
    camera_fps: float = 30.0
    #: eyelink backend: the Host PC's address, ``dummy`` (pylink's dummy mode) or ``replay:PATH``
    address: str = "100.1.1.1"


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment configuration (see the module documentation for the YAML)."""

    name: str
    geometry: Geometry
    refresh_hz: float
    stimuli: tuple[Path, ...]
    placement: str = "fit"
    timing: Timing = field(default_factory=Timing)
    order: str = "random"
    seed: int | None = None
    instructions: str = "Look at the pictures freely. Press SPACE to start."
    calibration: Calibration = field(default_factory=Calibration)
    drift_check_every: int = 5
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    output: Path = Path("sessions")
    source: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (for the session's config snapshot)."""
        d = asdict(self)
        d["stimuli"] = [str(p) for p in self.stimuli]
        d["output"] = str(self.output)
        d["source"] = str(self.source) if self.source else None
        return d


class _Fields:
    """Typed access to a YAML mapping that names the offending field in every error."""

    def __init__(self, path: Path, data: Any, prefix: str = "") -> None:
        if not isinstance(data, dict):
            where = prefix.rstrip(".") or "the file"
            raise ParseError(path, f"{where} must be a mapping of fields; got {type(data).__name__}")
        self.path, self.data, self.prefix = path, data, prefix
        self.used: set[str] = set()

    def _fail(self, key: str, value: Any, expected: str) -> ParseError:
        return ParseError(self.path, f"field '{self.prefix}{key}': {value!r}; expected {expected}")

    def get(self, key: str, default: Any = ..., *, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data or self.data[key] is None:
            if required or default is ...:
                raise ParseError(self.path, f"missing field '{self.prefix}{key}'")
            return default
        return self.data[key]

    def number(
        self, key: str, default: Any = ..., *, minimum: float = 0.0, strict: bool = True, unit: str = ""
    ) -> float:
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (v <= minimum if strict else v < minimum):
            raise self._fail(key, v, f"a number {'>' if strict else '>='} {minimum:g}{f' ({unit})' if unit else ''}")
        return float(v)

    def integer(self, key: str, default: Any = ..., *, choices: tuple[int, ...] | None = None, minimum: int = 0) -> int:
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum or (choices and v not in choices):
            raise self._fail(key, v, f"one of {list(choices)}" if choices else f"a whole number >= {minimum}")
        return int(v)

    def choice(self, key: str, default: Any, choices: tuple[str, ...]) -> str:
        v = self.get(key, default)
        if v not in choices:
            raise self._fail(key, v, f"one of {list(choices)}")
        return str(v)

    def sub(self, key: str) -> _Fields:
        return _Fields(self.path, self.get(key, {}), f"{self.prefix}{key}.")

    def check_unknown(self) -> None:
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise ParseError(self.path, f"unknown field(s) {[self.prefix + k for k in extra]}; check the spelling")


def _stimuli(path: Path, spec: _Fields) -> tuple[Path, ...]:
    base = path.parent
    if "folder" in spec.data:
        folder = (base / str(spec.get("folder"))).resolve()
        if not folder.is_dir():
            raise ParseError(path, f"field 'stimuli.folder': {str(folder)!r} is not a folder")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        if not files:
            raise ParseError(path, f"field 'stimuli.folder': no images or videos in {folder}")
    else:
        names = spec.get("files", required=True)
        if not isinstance(names, list) or not names:
            raise ParseError(path, "field 'stimuli.files': expected a non-empty list of file names")
        files = [(base / str(n)).resolve() for n in names]
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise ParseError(path, f"field 'stimuli.files': not found: {missing[:3]}")
    videos = [p for p in files if is_video(p)]
    if videos:
        from gazelab.acquisition.video import opencv, probe_video

        try:
            opencv()
        except GazelabError:
            raise ParseError(
                path,
                f"field 'stimuli': video stimuli {[p.name for p in videos[:3]]} need OpenCV, which is not "
                f"installed: {INSTALL_HINT}",
            ) from None
        for v in videos:
            try:
                probe_video(v)
            except ParseError as exc:
                raise ParseError(path, f"field 'stimuli': {v.name}: {exc.message}") from None
    spec.check_unknown()
    return tuple(files)


def _camera(path: Path, trk: _Fields) -> int | str:
    v = trk.get("camera", 0)
    if isinstance(v, bool) or (isinstance(v, int) and v < 0) or not isinstance(v, (int, str)):
        raise trk._fail("camera", v, "a camera index >= 0 or a video file")
    if isinstance(v, int):
        return v
    video = (path.parent / v).resolve()
    if not video.is_file():
        raise trk._fail("camera", v, f"a camera index or an existing video file (not found: {video})")
    return str(video)


def _flag(path: Path, spec: _Fields, key: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise ParseError(path, f"field '{key}': {value!r}; expected true or false")
    return value


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment YAML file.

    Raises
    ------
    ParseError
        Naming the file and the field, the bad value and what is allowed (also for unknown fields).
    """
    from gazelab._io import read_yaml

    path = Path(path)
    data = read_yaml(path, "experiment file")  # size-limited, UTF-8, aliases bounded
    top = _Fields(path, data)
    scr = top.sub("screen")
    geometry = Geometry(
        int(scr.number("width_px", unit="px")),
        int(scr.number("height_px", unit="px")),
        scr.number("width_cm", unit="cm"),
        scr.number("height_cm", unit="cm"),
        scr.number("distance_cm", unit="cm"),
    )
    refresh = scr.number("refresh_hz", 60.0, unit="Hz")
    scr.check_unknown()
    stimuli = _stimuli(path, top.sub("stimuli"))
    tim = top.sub("timing")
    timing = Timing(
        tim.number("fixation_cross_ms", 500.0, strict=False, unit="ms"),
        tim.number("stimulus_ms", 3000.0, unit="ms"),
        tim.number("inter_trial_ms", 500.0, strict=False, unit="ms"),
    )
    tim.check_unknown()
    cal = top.sub("calibration")
    calibration = Calibration(
        cal.integer("points", 9, choices=(5, 9, 13)),
        cal.number("validation_threshold_deg", 1.0, unit="deg"),
        cal.number("max_error_deg", 1.5, unit="deg"),
        cal.integer("max_attempts", 3, minimum=1),
        _flag(path, cal, "own_validation"),
    )
    cal.check_unknown()
    trk = top.sub("tracker")
    tracker = TrackerConfig(
        trk.choice("backend", "simulated", ("simulated", "eyelink", "webcam")),
        trk.number("sampling_rate_hz", 1000.0, unit="Hz"),
        trk.choice("eye", "L", ("L", "R", "LR")),
        _camera(path, trk),
        trk.number("camera_fps", 30.0, unit="Hz"),
        str(trk.get("address", "100.1.1.1")),
    )
    trk.check_unknown()
    seed = top.get("seed", None)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ParseError(path, f"field 'seed': {seed!r}; expected a whole number or null")
    instructions = top.get("instructions", ExperimentConfig.instructions)
    if not isinstance(instructions, str):
        raise ParseError(path, f"field 'instructions': {instructions!r}; expected text")
    cfg = ExperimentConfig(
        name=str(top.get("name", path.stem)),
        geometry=geometry,
        refresh_hz=refresh,
        stimuli=stimuli,
        placement=top.choice("placement", "fit", ("fit", "center", "fill")),
        timing=timing,
        order=top.choice("order", "random", ("random", "fixed")),
        seed=seed,
        instructions=instructions,
        calibration=calibration,
        drift_check_every=top.integer("drift_check_every", 5),
        tracker=tracker,
        output=(path.parent / str(top.get("output", "sessions"))).resolve(),
        source=path.resolve(),
    )
    top.check_unknown()
    return cfg
