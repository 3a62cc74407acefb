"""Synthetic photos of litter in the wild: the book's data when no TACO is prepared.

Every scene is drawn from numbers alone (numpy + Pillow): a natural background (sand,
grass, asphalt, fallen leaves, water), pieces of litter (cans, cups, cartons, paper,
plastic bags, cigarette butts) and, in bottle scenes, a bottle (glass or PET, many
shapes and tints). Seven knobs in :class:`Challenges`, one per image classification
challenge of the course, make the scenes harder one at a time. The label of a scene is
1 ("bottle") when it holds at least one bottle, else 0 ("other").

By default the scenes are calibrated to TACO's official annotations: the share of
scenes with a bottle, the number of objects per scene and their sizes relative to the
picture match TACO's within the tolerance of :mod:`wastelab.data.coco_stats`
(``TOLERANCES``); :func:`scene_annotations` gives the boxes to check it.

Scene ``i`` of ``make_scenes(seed=s)`` is ``render_scene(scene_seed(s, i), y[i])``
resized: its randomness depends on ``(s, i)`` only, so it is the same for every ``n``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

from .images import channels, to_array

CHALLENGE_NAMES = (
    "viewpoint",
    "scale",
    "deformation",
    "occlusion",
    "illumination",
    "clutter",
    "intra_class",
)
BACKGROUNDS = ("sand", "grass", "asphalt", "leaves", "water")
DISTRACTORS = ("can", "tall_can", "cup", "carton", "paper", "bag", "butt")

_TAG_LABELS, _TAG_SCENE = 1, 2  # keep the label stream and the scene streams apart

# Calibrated to TACO's official annotations (tests/data/test_calibration.py checks them
# against the file the book ships): the share of photos with a bottle, how many pieces
# of litter a photo shows and how large they are.
DEFAULT_BOTTLE_SHARE = 0.215
# extra objects: mean per unit of clutter, most, and how often each kind (DISTRACTORS)
_EXTRA_PER_CLUTTER = 14.6
_MAX_EXTRA = 40
_EXTRA_WEIGHTS = np.array([0.1, 0.05, 0.08, 0.08, 0.14, 0.1, 0.45])
# camera distance: the log of a bottle's length shrinks by SHRINK x scale on average
# and spreads (standard deviation) by SPREAD x scale
_SCALE_SHRINK = 2.2
#: The ``scale`` at which objects have TACO's relative sizes
#: (tests/data/test_calibration)
TACO_SCALE = 0.5
_SCALE_SPREAD = 1.5

# Each kind of litter as the TACO category an annotator would give it (name,
# supercategory); bottles are named by their material in _bottle.
TACO_CATEGORIES = {
    "can": ("Drink can", "Can"),
    "tall_can": ("Drink can", "Can"),
    "cup": ("Disposable plastic cup", "Cup"),
    "carton": ("Drink carton", "Carton"),
    "paper": ("Normal paper", "Paper"),
    "bag": ("Plastic film", "Plastic bag & wrapper"),
    "butt": ("Cigarette", "Cigarette"),
    "clear_bottle": ("Clear plastic bottle", "Bottle"),
    "other_bottle": ("Other plastic bottle", "Bottle"),
    "glass_bottle": ("Glass bottle", "Bottle"),
}
_BICUBIC = Image.Resampling.BICUBIC


@dataclass(frozen=True)
class Challenges:
    """How hard the scenes are: one knob in [0, 1] per image classification challenge.

    0 turns a challenge off, 1 is its hardest setting. ``clutter`` sets the number of
    extra objects (the default 0.15 gives TACO's objects per photo); ``scale`` the
    distance to the camera: at 0 a bottle is half the picture long, at ``TACO_SCALE``
    (0.5, :meth:`taco`) objects have TACO's relative sizes. The book's default, 0.1,
    draws them larger: at 50 x 50, TACO-sized bottles are a few pixels long and the
    course's models learn nothing from them (as the course found on TACO);
    ``bench/check_synthetic_fairness.py`` measures how well the models do.

    - ``viewpoint``: rotation, lying instead of standing, foreshortening.
    - ``scale``: how far away and how varied in size objects are.
    - ``deformation``: crushed, dented and bent objects.
    - ``occlusion``: sand, leaves, grass or other litter covering part of an object.
    - ``illumination``: brightness, contrast, colour cast, light gradients and shade.
    - ``clutter``: how many other objects there are and how busy the background is.
    - ``intra_class``: how much bottles vary in shape, material, tint, cap and label.
    """

    viewpoint: float = 0.3
    scale: float = 0.1
    deformation: float = 0.4
    occlusion: float = 0.2
    illumination: float = 0.15
    clutter: float = 0.15
    intra_class: float = 0.15

    def __post_init__(self) -> None:
        for name in CHALLENGE_NAMES:
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not 0.0 <= float(value) <= 1.0
            ):
                raise ValueError(
                    f"challenge {name!r} must be a number in [0, 1], got {value!r}"
                )
            object.__setattr__(self, name, float(value))

    @classmethod
    def taco(cls) -> Challenges:
        """The defaults with objects at TACO's relative sizes (``scale=TACO_SCALE``)."""
        return cls(scale=TACO_SCALE)

    @classmethod
    def none(cls) -> Challenges:
        """Every challenge off: one upright, intact, visible, evenly lit object."""
        return cls(**dict.fromkeys(CHALLENGE_NAMES, 0.0))

    @classmethod
    def only(cls, name: str, level: float = 1.0) -> Challenges:
        """One challenge at ``level``, all others off (to show a challenge alone)."""
        if name not in CHALLENGE_NAMES:
            raise ValueError(
                f"unknown challenge {name!r}; choose one of {CHALLENGE_NAMES}"
            )
        return replace(cls.none(), **{name: level})

    def as_dict(self) -> dict[str, float]:
        """The seven knobs as a plain (JSON-serialisable) dict."""
        return {name: getattr(self, name) for name in CHALLENGE_NAMES}


def scene_seed(seed: int, index: int) -> int:
    """The seed of scene ``index`` of ``make_scenes(seed=seed)``, for render_scene."""
    _check_seed(seed)
    _check_seed(index, "index")
    state = np.random.SeedSequence([_TAG_SCENE, int(seed), int(index)]).generate_state(
        2
    )
    return int(state[0]) << 32 | int(state[1])


def bottle_labels(
    n: int, bottle_share: float | None = None, seed: int = 0
) -> np.ndarray:
    """Labels of ``make_scenes``: ``round(n * bottle_share)`` ones, shuffled by seed.

    ``bottle_share`` defaults to ``DEFAULT_BOTTLE_SHARE`` (TACO's). Returns int64 of
    shape (n,).
    """
    bottle_share = _share(bottle_share)
    _check_count_share(n, bottle_share)
    _check_seed(seed)
    y = np.zeros(n, dtype=np.int64)
    y[: round(n * bottle_share)] = 1
    return np.random.default_rng([_TAG_LABELS, int(seed)]).permutation(y)


def render_scene(
    seed: int, has_bottle: bool, size: int = 128, challenges: Challenges | None = None
) -> np.ndarray:
    """Draw one scene of litter in the wild, with or without a bottle.

    Returns uint8 RGB of shape (size, size, 3). Same arguments, same pixels. The layout
    of a scene does not depend on ``size``: a larger size draws the same scene in more
    detail.
    """
    return np.asarray(_render_image(seed, has_bottle, size, challenges))


def make_scenes(
    n: int = 1500,
    bottle_share: float | None = None,
    seed: int = 0,
    size: tuple[int, int] = (50, 50),
    color: str = "gray",
    render_size: int = 96,
    challenges: Challenges | None = None,
    verbose: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Generate ``n`` labelled scenes, drawn at ``render_size`` and resized to ``size``.

    Returns ``x`` uint8 (n, H, W, C) with C = 1 for ``"gray"`` and 3 for ``"rgb"``
    (resized with anti-aliasing by :func:`wastelab.data.images.to_array`), ``y`` int64
    (n,) with 1 = bottle and exactly ``round(n * bottle_share)`` bottle scenes (see
    :func:`bottle_labels`; by default TACO's share), and a JSON-serialisable ``meta``
    dict describing how the data were made. Scene ``i`` is ``render_scene(scene_seed(
    seed, i), y[i], render_size, challenges)``: it does not depend on ``n``, and the
    book can redraw any scene larger. :func:`scene_annotations` gives the scenes' boxes.
    """
    bottle_share = _share(bottle_share)
    _check_count_share(n, bottle_share)
    _check_seed(seed)
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(s, numbers.Integral) and s >= 1 for s in size)
    ):
        raise ValueError(
            f"size must be (height, width) with positive integers, got {size!r}"
        )
    n_channels = channels(color)
    _check_render_size(render_size)
    ch = _check_challenges(challenges)
    y = bottle_labels(n, bottle_share, seed)
    height, width = int(size[0]), int(size[1])
    x = np.empty((n, height, width, n_channels), dtype=np.uint8)
    for i in tqdm(range(n), desc="synthetic scenes", disable=not verbose):
        image = _render_image(scene_seed(seed, i), bool(y[i]), render_size, ch)
        x[i] = to_array(image, (height, width), color)
    meta = {
        "source": "synthetic",
        "task": "image",
        "n": int(n),
        "bottle_share": float(bottle_share),
        "seed": int(seed),
        "render_size": int(render_size),
        "size": [height, width],
        "color": color,
        "challenges": ch.as_dict(),
    }
    return x, y, meta


def scene_annotations(
    n: int = 1500,
    bottle_share: float | None = None,
    seed: int = 0,
    render_size: int = 96,
    challenges: Challenges | None = None,
) -> dict[str, Any]:
    """The COCO annotations of the scenes ``make_scenes`` draws with the same arguments.

    One image per scene (``render_size`` pixels square, ``id`` = scene index) and one
    annotation per piece of litter with the TACO category an annotator would give it
    and the box [x, y, w, h] of its visible pixels (clipped to the picture), so that
    :func:`wastelab.data.coco_stats.coco_statistics` describes the stand-in exactly as
    it describes TACO. Lays the scenes out without drawing them: fast.
    """
    bottle_share = _share(bottle_share)
    _check_count_share(n, bottle_share)
    _check_seed(seed)
    _check_render_size(render_size)
    ch = _check_challenges(challenges)
    y = bottle_labels(n, bottle_share, seed)
    names = sorted(set(TACO_CATEGORIES.values()))
    category_id = {name: i for i, (name, _) in enumerate(names)}
    images, annotations = [], []
    for i in range(n):
        objects: list[dict[str, Any]] = []
        _render_image(
            scene_seed(seed, i), bool(y[i]), render_size, ch, objects, draw=False
        )
        images.append(
            {
                "id": i,
                "file_name": f"scene_{i:05d}.png",
                "width": render_size,
                "height": render_size,
            }
        )
        for obj in objects:
            name = TACO_CATEGORIES[obj["category"]][0]
            annotations.append(
                {
                    "id": len(annotations),
                    "image_id": i,
                    "category_id": category_id[name],
                    "bbox": obj["bbox"],
                }
            )
    categories = [
        {"id": i, "name": name, "supercategory": supercategory}
        for i, (name, supercategory) in enumerate(names)
    ]
    return {
        "info": {"description": f"wastelab synthetic scenes (seed {seed})"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


# ------------------------------------------------------------------------ checks


def _share(bottle_share: float | None) -> float:
    return DEFAULT_BOTTLE_SHARE if bottle_share is None else bottle_share


def _check_seed(seed: Any, what: str = "seed") -> None:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {seed!r}")


def _check_count_share(n: Any, share: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if (
        isinstance(share, bool)
        or not isinstance(share, numbers.Real)
        or not 0 <= share <= 1
    ):
        raise ValueError(f"bottle_share must be a number in [0, 1], got {share!r}")


def _check_render_size(size: Any) -> None:
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 16:
        raise ValueError(f"render size must be an integer >= 16, got {size!r}")


def _check_challenges(challenges: Any) -> Challenges:
    if challenges is None:
        return Challenges()
    if not isinstance(challenges, Challenges):
        raise ValueError(
            f"challenges must be a Challenges instance or None, got {challenges!r}"
        )
    return challenges


# ------------------------------------------------------------------------ the scene


@dataclass
class _Ctx:
    """What every drawing step of one scene needs to know."""

    size: int
    ch: Challenges
    background: str
    light: float  # direction the light comes from, radians in image coordinates
    shadow: float  # strength of drop shadows, 0..1

    @property
    def px(self) -> float:
        """Pixels per unit of a 96-pixel render (for line widths and blurs)."""
        return self.size / 96


@dataclass
class _Placed:
    """An object on the ground: centre, rotation (degrees), length, width (pixels)."""

    cx: float
    cy: float
    angle: float
    length: float
    width: float

    def axis(self) -> tuple[float, float]:
        """Unit vector from the object's centre towards its top (cap end)."""
        a = math.radians(self.angle)
        return -math.sin(a), -math.cos(a)


def _render_image(
    seed: int,
    has_bottle: bool,
    size: int,
    challenges: Challenges | None,
    objects: list[dict[str, Any]] | None = None,
    draw: bool = True,
) -> Image.Image:
    """The scene; its objects' categories and boxes are appended to ``objects``.

    ``draw=False`` lays the objects out without the pixel work (ground, occlusion,
    light): the same boxes, much faster, for :func:`scene_annotations`.
    """
    _check_seed(seed)
    _check_render_size(size)
    ch = _check_challenges(challenges)
    # one stream per aspect, so that turning one knob leaves the rest of the scene alone
    plan_ss, bg_ss, objects_ss, occlusion_ss, light_ss, grain_ss = (
        np.random.SeedSequence(int(seed)).spawn(6)
    )
    rng_plan, rng_bg, rng_light, rng_grain = (
        np.random.default_rng(ss) for ss in (plan_ss, bg_ss, light_ss, grain_ss)
    )

    background = BACKGROUNDS[rng_plan.integers(len(BACKGROUNDS))]
    ctx = _Ctx(
        size=size,
        ch=ch,
        background=background,
        light=float(rng_light.uniform(-math.pi, math.pi)) * ch.illumination - 2.3,
        shadow=0.3 + 0.35 * ch.illumination * float(rng_light.random()),
    )
    if background == "water":
        ctx.shadow *= 0.4
    if draw:
        scene = _background(rng_bg, rng_grain, ctx)
        ground = scene.copy()
    else:
        scene = Image.new("RGB", (size, size))
        ctx.shadow = 0.0

    kinds = _object_kinds(rng_plan, has_bottle, ch)
    order = rng_plan.permutation(len(kinds))
    bottle_len = _camera_distance(rng_plan, ch) * size
    obj_streams = objects_ss.spawn(len(kinds))
    occ_streams = occlusion_ss.spawn(len(kinds))
    for slot in order:
        rng = np.random.default_rng(obj_streams[slot])
        placed, category, box = _draw_object(
            scene, rng, ctx, kinds[slot], bottle_len, main=slot == 0, draw=draw
        )
        if objects is not None and box is not None:
            objects.append({"category": category, "bbox": box})
        if draw:
            rng = np.random.default_rng(occ_streams[slot])
            _occlude(scene, ground, rng, ctx, placed)
    return _light_and_camera(scene, rng_light, rng_grain, ctx) if draw else scene


def _camera_distance(rng: np.random.Generator, ch: Challenges) -> float:
    """A scene's bottle length as a share of the picture (log-normal, wider with scale).

    Scale 0: always half the picture; ``TACO_SCALE`` gives bottles of TACO's relative
    size (``tests/data/test_calibration.py``).
    """
    z = rng.standard_normal()
    share = 0.5 * math.exp(-_SCALE_SHRINK * ch.scale + _SCALE_SPREAD * ch.scale * z)
    return min(max(share, 0.03), 0.7)


def _object_kinds(
    rng: np.random.Generator, has_bottle: bool, ch: Challenges
) -> list[str]:
    """Slot 0 is the main object (a bottle, or a distractor); the rest are extra litter.

    The number of extras is negative binomial (shape 0.5: most photos show one or two
    pieces, a few show a heap) with mean ``_EXTRA_PER_CLUTTER * clutter``, drawn from
    one uniform number so that the clutter knob moves nothing else.
    """
    main_weights = np.array([0.3, 0.15, 0.25, 0.1, 0.1, 0.1, 0.0])
    main = DISTRACTORS[rng.choice(len(DISTRACTORS), p=main_weights)]
    second_bottle = rng.random() < 0.12
    n_extra = _negative_binomial(rng.random(), 0.5, _EXTRA_PER_CLUTTER * ch.clutter)
    extras = [
        DISTRACTORS[k]
        for k in rng.choice(len(DISTRACTORS), size=_MAX_EXTRA, p=_EXTRA_WEIGHTS)
    ]
    kinds = ["bottle" if has_bottle else main] + extras[:n_extra]
    if has_bottle and second_bottle and n_extra:
        kinds[-1] = "bottle"
    return kinds


def _negative_binomial(u: float, shape: float, mean: float) -> int:
    """The count whose cumulative probability first reaches ``u`` (capped)."""
    if mean <= 0:
        return 0
    p = shape / (shape + mean)
    pmf = p**shape
    total, k = pmf, 0
    while total < u and k < _MAX_EXTRA:
        pmf *= (k + shape) / (k + 1) * (1 - p)
        k += 1
        total += pmf
    return k


# ------------------------------------------------------------------------ backgrounds

_PALETTES = {  # two ground colours mixed by smooth noise
    "sand": ((0.80, 0.70, 0.52), (0.62, 0.52, 0.36)),
    "grass": ((0.28, 0.45, 0.16), (0.45, 0.52, 0.22)),
    "asphalt": ((0.30, 0.30, 0.31), (0.45, 0.44, 0.43)),
    "leaves": ((0.30, 0.22, 0.14), (0.45, 0.34, 0.20)),
    "water": ((0.18, 0.30, 0.36), (0.32, 0.42, 0.44)),
}
_LEAF_COLOURS = np.array(
    [
        (0.80, 0.62, 0.18),
        (0.75, 0.40, 0.12),
        (0.55, 0.22, 0.10),
        (0.42, 0.28, 0.14),
        (0.62, 0.50, 0.25),
        (0.35, 0.45, 0.15),
        (0.85, 0.72, 0.35),
    ]
)
_GRASS_COLOURS = np.array(
    [
        (0.20, 0.38, 0.10),
        (0.35, 0.55, 0.18),
        (0.50, 0.60, 0.25),
        (0.62, 0.62, 0.35),
        (0.15, 0.30, 0.10),
    ]
)
_STONE_COLOURS = np.array(
    [(0.55, 0.53, 0.50), (0.42, 0.40, 0.38), (0.68, 0.64, 0.58), (0.50, 0.44, 0.36)]
)


def _smooth_noise(
    rng: np.random.Generator, height: int, width: int, cells: int
) -> np.ndarray:
    """Smooth random field in about [-1, 1], (height, width); draws cells**2 numbers."""
    grid = rng.random((cells, cells), dtype=np.float32) * 2 - 1
    return np.asarray(Image.fromarray(grid).resize((width, height), _BICUBIC))


def _rgb(colour: np.ndarray | tuple[float, ...]) -> tuple[int, ...]:
    """A colour in [0, 1] (clipped) as a Pillow ink tuple."""
    return tuple(int(min(max(float(c), 0.0), 1.0) * 255 + 0.5) for c in colour)


def _inks(colours: np.ndarray) -> list[tuple[int, ...]]:
    """Many colours (n, 3) in [0, 1] as Pillow ink tuples."""
    return [tuple(c) for c in (np.clip(colours, 0, 1) * 255 + 0.5).astype(int).tolist()]


def _background(
    rng: np.random.Generator, grain: np.random.Generator, ctx: _Ctx
) -> Image.Image:
    s, clutter, kind = ctx.size, ctx.ch.clutter, ctx.background
    col_a, col_b = (
        np.array(c) * np.exp(rng.normal(0, 0.08, 3)) for c in _PALETTES[kind]
    )
    col_a, col_b = col_a.astype(np.float32), col_b.astype(np.float32)
    mix = 0.5 + 0.45 * _smooth_noise(rng, s, s, 4) + 0.3 * _smooth_noise(rng, s, s, 11)
    mix = np.clip(mix, 0, 1)[..., None]
    detail = _smooth_noise(rng, s, s, 29)[..., None]
    rgb = col_a * (1 - mix) + col_b * mix
    grain_amp = {
        "sand": 0.10,
        "asphalt": 0.16,
        "grass": 0.08,
        "leaves": 0.08,
        "water": 0.03,
    }
    rgb = rgb * (
        1
        + (0.06 + 0.12 * clutter) * detail
        + grain_amp[kind] * _grain(grain, (s, s, 1))
    )
    if kind == "water":  # darker far away, lighter near: a hint of depth
        rgb = rgb * np.linspace(0.85, 1.15, s, dtype=np.float32)[:, None, None]
    image = Image.fromarray(np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    {
        "sand": _sand,
        "grass": _grass,
        "asphalt": _asphalt,
        "leaves": _leaves,
        "water": _water,
    }[kind](draw, rng, ctx)
    _debris(draw, rng, ctx)
    return image


def _sand(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ctx: _Ctx) -> None:
    s, px = ctx.size, ctx.px
    for _ in range(rng.integers(0, 5)):  # wind ripples
        y0, amp, freq = (
            rng.uniform(0, s),
            rng.uniform(0.01, 0.04) * s,
            rng.uniform(1, 3),
        )
        phase, tone = rng.uniform(0, 6.3), rng.choice([0.85, 1.12])
        xs = np.linspace(-2, s + 2, 24)
        ys = y0 + amp * np.sin(freq * 2 * np.pi * xs / s + phase) + 0.1 * (xs - s / 2)
        base = np.array(_PALETTES["sand"][0]) * tone
        draw.line(
            list(zip(xs, ys, strict=True)), fill=_rgb(base), width=max(1, round(px))
        )
    _stones(draw, rng, ctx, count=int(4 + 30 * ctx.ch.clutter), size=(0.006, 0.025))


def _grass(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ctx: _Ctx) -> None:
    _blades(draw, rng, ctx, int(80 + 420 * ctx.ch.clutter), (0, 0, ctx.size, ctx.size))


def _blades(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    ctx: _Ctx,
    count: int,
    box: tuple[float, float, float, float],
) -> None:
    """Short grass blades in ``box`` (x0, y0, x1, y1)."""
    s = ctx.size
    x = rng.uniform(box[0], box[2], count)
    y = rng.uniform(box[1], box[3], count)
    length = rng.uniform(0.02, 0.09, count) * s
    angle = rng.normal(-np.pi / 2, 0.45, count)
    colour = _GRASS_COLOURS[rng.integers(len(_GRASS_COLOURS), size=count)]
    inks = _inks(colour * rng.uniform(0.8, 1.2, (count, 1)))
    width = (
        np.maximum(1, np.round(rng.uniform(0.6, 1.8, count) * ctx.px))
        .astype(int)
        .tolist()
    )
    lines = np.stack(
        [x, y, x + length * np.cos(angle), y + length * np.sin(angle)], 1
    ).tolist()
    for line, ink, w in zip(lines, inks, width, strict=True):
        draw.line(line, fill=ink, width=w)


def _asphalt(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ctx: _Ctx) -> None:
    s, px = ctx.size, ctx.px
    if rng.random() < 0.35:  # a worn painted line
        y0, y1 = rng.uniform(0, s, 2)
        paint = _rgb((0.85, 0.82, 0.7) if rng.random() < 0.6 else (0.85, 0.7, 0.2))
        draw.line(
            [(-2, y0), (s + 2, y1)],
            fill=paint,
            width=max(2, round(rng.uniform(4, 9) * px)),
        )
    for _ in range(rng.integers(0, 4)):  # cracks: dark random walks
        points = [tuple(rng.uniform(0, s, 2))]
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(8):
            heading += rng.normal(0, 0.6)
            step = rng.uniform(0.02, 0.06) * s
            points.append(
                (
                    points[-1][0] + step * math.cos(heading),
                    points[-1][1] + step * math.sin(heading),
                )
            )
        draw.line(points, fill=_rgb((0.12, 0.12, 0.12)), width=max(1, round(px)))
    _stones(draw, rng, ctx, count=int(3 + 20 * ctx.ch.clutter), size=(0.004, 0.015))


def _leaves(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ctx: _Ctx) -> None:
    count = int(25 + 100 * ctx.ch.clutter)
    centres = rng.uniform(-0.05, 1.05, (count, 2)) * ctx.size
    _draw_leaves(draw, rng, centres, rng.uniform(0.03, 0.09, count) * ctx.size)


_LEAF_T = np.linspace(0, 2 * np.pi, 13)[:-1]
_LEAF_X = 0.5 * np.cos(_LEAF_T)
_LEAF_Y = 0.5 * np.sin(_LEAF_T) * (0.55 + 0.45 * np.abs(np.sin(_LEAF_T)))


def _draw_leaves(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    centres: np.ndarray,
    lengths: np.ndarray,
) -> None:
    """Fallen leaves: pointed ovals with a darker vein; centres (n, 2), lengths (n,)."""
    n = len(lengths)
    widths = lengths * rng.uniform(0.35, 0.6, n)
    angle = rng.uniform(0, np.pi, n)
    colours = _LEAF_COLOURS[rng.integers(len(_LEAF_COLOURS), size=n)] * rng.uniform(
        0.75, 1.15, (n, 1)
    )
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x, y = lengths[:, None] * _LEAF_X, widths[:, None] * _LEAF_Y
    px = centres[:, :1] + c * x - s * y
    py = centres[:, 1:] + s * x + c * y
    outlines = np.stack([px, py], axis=2).reshape(n, -1).tolist()
    veins = np.concatenate(
        [px[:, [0]], py[:, [0]], px[:, [6]], py[:, [6]]], axis=1
    ).tolist()
    for outline, vein, ink, dark in zip(
        outlines, veins, _inks(colours), _inks(colours * 0.7), strict=True
    ):
        draw.polygon(outline, fill=ink)
        draw.line(vein, fill=dark, width=1)


def _water(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ctx: _Ctx) -> None:
    s, px = ctx.size, ctx.px
    count = int(12 + 45 * ctx.ch.clutter)
    base = np.array(_PALETTES["water"][1])
    for _ in range(count):  # glints and ripples on the surface
        x, y = rng.uniform(-0.1, 1.0) * s, rng.uniform(0, 1) * s
        length = rng.uniform(0.05, 0.25) * s
        tone = rng.uniform(1.2, 2.0)
        draw.line(
            [(x, y), (x + length, y + rng.normal(0, 0.01) * s)],
            fill=_rgb(base * tone),
            width=max(1, round(rng.uniform(0.6, 1.6) * px)),
        )
    for _ in range(rng.integers(0, 4)):  # floating foam
        cx, cy, r = rng.uniform(0, s), rng.uniform(0, s), rng.uniform(0.02, 0.05) * s
        draw.ellipse(
            [cx - r, cy - r * 0.5, cx + r, cy + r * 0.5], fill=_rgb((0.75, 0.78, 0.76))
        )


def _stones(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    ctx: _Ctx,
    count: int,
    size: tuple[float, float],
) -> None:
    """Pebbles and stones: a darker ellipse with a lighter, off-centre top."""
    if count == 0:
        return
    centres = rng.uniform(0, ctx.size, (count, 2))
    rx = rng.uniform(*size, count) * ctx.size
    ry = rx * rng.uniform(0.5, 1.0, count)
    colours = _STONE_COLOURS[
        rng.integers(len(_STONE_COLOURS), size=count)
    ] * rng.uniform(0.8, 1.2, (count, 1))
    cx, cy = centres[:, 0], centres[:, 1]
    outer = np.stack([cx - rx, cy - ry, cx + rx, cy + ry], 1).tolist()
    inner = np.stack(
        [cx - rx * 0.8, cy - ry * 0.9, cx + rx * 0.6, cy + ry * 0.5], 1
    ).tolist()
    for box, top, dark, light in zip(
        outer, inner, _inks(colours * 0.7), _inks(colours), strict=True
    ):
        draw.ellipse(box, fill=dark)
        draw.ellipse(top, fill=light)


def _debris(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ctx: _Ctx) -> None:
    """Twigs and stones on any ground; how many grows with the clutter knob."""
    s, px, clutter = ctx.size, ctx.px, ctx.ch.clutter
    for _ in range(int(np.sum(rng.random(8) < clutter * 0.7))):
        points = [tuple(rng.uniform(0, s, 2))]
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(rng.integers(1, 4)):
            heading += rng.normal(0, 0.4)
            step = rng.uniform(0.05, 0.14) * s
            points.append(
                (
                    points[-1][0] + step * math.cos(heading),
                    points[-1][1] + step * math.sin(heading),
                )
            )
        colour = np.array((0.35, 0.25, 0.15)) * rng.uniform(0.6, 1.4)
        draw.line(
            points, fill=_rgb(colour), width=max(1, round(rng.uniform(0.8, 2.5) * px))
        )
    _stones(
        draw,
        rng,
        ctx,
        count=int(np.sum(rng.random(6) < clutter * 0.6)),
        size=(0.02, 0.05),
    )


# ------------------------------------------------------------------------ objects


def _draw_object(
    scene: Image.Image,
    rng: np.random.Generator,
    ctx: _Ctx,
    kind: str,
    bottle_len: float,
    main: bool,
    draw: bool = True,
) -> tuple[_Placed, str, list[float] | None]:
    """Make one piece of litter, pose it (viewpoint, scale), paste it with its shadow.

    Returns where it lies, its TACO category and its box [x, y, w, h] in the scene (None
    if it lies wholly outside).
    """
    ch, s = ctx.ch, ctx.size
    relative = {
        "bottle": 1.0,
        "can": 0.52,
        "tall_can": 0.7,
        "cup": 0.47,
        "carton": 0.55,
        "paper": 0.6,
        "bag": 1.2,
        "butt": 0.14,
    }[kind]
    size_jitter = math.exp(rng.normal(0, 0.05 + 0.2 * ch.scale))
    foreshortening = 1 - ch.viewpoint * rng.uniform(0, 0.45)
    angle = ch.viewpoint * rng.uniform(-180, 180) + rng.normal(0, 4)
    if main:  # the subject of the photo: near the middle, as people photograph litter
        cx, cy = np.clip(0.5 + 0.12 * rng.standard_normal(2), 0.2, 0.8) * s
    else:
        cx, cy = rng.uniform(0.03, 0.97, 2) * s
    length = max(
        4.0 if kind in ("bottle", "carton") else 2.0,
        bottle_len * relative * size_jitter * foreshortening,
    )
    light = math.sin(ctx.light - math.radians(angle))
    maker = {
        "bottle": _bottle,
        "can": _can,
        "tall_can": _tall_can,
        "cup": _cup,
        "carton": _carton,
        "paper": _paper,
        "bag": _bag,
        "butt": _butt,
    }[kind]
    sprite = maker(rng, ctx, length, light)
    category = sprite.info.get("category", kind)
    placed = _Placed(cx, cy, angle, sprite.height, sprite.width)
    box = _paste(scene, sprite, placed, ctx, draw=draw)
    return placed, category, box


def _paste(
    scene: Image.Image,
    sprite: Image.Image,
    placed: _Placed,
    ctx: _Ctx,
    draw: bool = True,
) -> list[float] | None:
    """Rotate ``sprite`` (RGBA) about its centre, paste it at ``placed`` with a shadow.

    Returns the box [x, y, w, h] of its visible pixels in the scene (None if none).
    """
    rotated = sprite.rotate(placed.angle, resample=_BICUBIC, expand=True)
    x0 = int(round(placed.cx - rotated.width / 2))
    y0 = int(round(placed.cy - rotated.height / 2))
    if draw and ctx.shadow > 0:
        pad = max(2, int(3 * ctx.px))
        alpha = Image.new("L", (rotated.width + 2 * pad, rotated.height + 2 * pad), 0)
        alpha.paste(rotated.getchannel("A"), (pad, pad))
        strength = ctx.shadow
        blurred = np.asarray(alpha.filter(ImageFilter.GaussianBlur(1.2 * ctx.px)))
        shadow = Image.fromarray((blurred * strength).astype(np.uint8))
        reach = 0.12 * min(placed.length, placed.width * 2.5)
        dx = int(round(-math.cos(ctx.light) * reach))
        dy = int(round(-math.sin(ctx.light) * reach))
        scene.paste((0, 0, 0), (x0 - pad + dx, y0 - pad + dy), shadow)
    if draw:
        scene.paste(rotated, (x0, y0), rotated)
    seen = rotated.getchannel("A").point(_VISIBLE).getbbox()
    if seen is None:
        return None
    left, top = max(x0 + seen[0], 0), max(y0 + seen[1], 0)
    right = min(x0 + seen[2], scene.width)
    bottom = min(y0 + seen[3], scene.height)
    if right <= left or bottom <= top:
        return None
    return [float(left), float(top), float(right - left), float(bottom - top)]


_VISIBLE = [0] * 32 + [255] * 224  # alpha of at least 32: part of the object's box


def _revolved(
    radius: np.ndarray,
    rows_rgb: np.ndarray,
    rows_alpha: np.ndarray,
    light: float,
    *,
    bend: np.ndarray | None = None,
    gloss: float = 0.35,
    metal: bool = False,
    crease: np.ndarray | None = None,
) -> Image.Image:
    """An upright round object (bottle, can, cup, butt) from its radius along the axis.

    ``radius`` (h,) in pixels from top to bottom, ``rows_rgb`` (h, 3) and
    ``rows_alpha`` (h,) the colour and opacity of each row, ``bend`` (h,) a sideways
    offset of the axis, ``light`` in [-1, 1] the side the light comes from. Returns an
    RGBA image of height h.
    """
    h = radius.size
    bend = np.zeros(h, dtype=np.float32) if bend is None else bend
    half = int(math.ceil(float(np.max(radius + np.abs(bend))))) + 2
    x = np.arange(2 * half, dtype=np.float32) + 0.5 - half
    d = x[None, :] - bend[:, None]
    r = np.maximum(radius, 0.5)[:, None]
    cover = np.clip(r - np.abs(d) + 0.5, 0, 1)
    u = np.clip(d / r, -1, 1)
    facing = np.sqrt(1 - u * u)
    lambert = np.clip(light * u + 0.8 * facing, 0, None) / math.hypot(light, 0.8)
    shade = 0.2 + 1.0 * lambert**2 if metal else 0.35 + 0.7 * lambert
    if crease is not None:
        shade = shade * (1 + crease)
    spec_at, spec_width = -0.5 * light, (0.09 if metal else 0.14)
    spec = gloss * np.exp(-(((u - spec_at) / spec_width) ** 2))
    rgb = rows_rgb[:, None, :] * shade[..., None] + spec[..., None]
    opacity = rows_alpha[:, None]
    alpha = cover * np.maximum(
        opacity + (1 - opacity) * u**4 * 0.7, np.clip(spec * 1.5, 0, 1)
    )
    rgba = np.concatenate([np.clip(rgb, 0, 1), alpha[..., None]], axis=2)
    return Image.fromarray((rgba * 255 + 0.5).astype(np.uint8))


def _profile_noise(rng: np.random.Generator, h: int, knots: int = 7) -> np.ndarray:
    """Smooth 1-D noise in about [-1, 1] along an object's axis."""
    values = rng.uniform(-1, 1, knots)
    return np.interp(np.linspace(0, knots - 1, h), np.arange(knots), values).astype(
        np.float32
    )


def _deform(
    rng: np.random.Generator, h: int, width: int, radius: float, amount: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dents (radius factor (h,)), a bent axis (offset (h,)), creases (shade (h, w))."""
    t = np.linspace(0, 1, h, dtype=np.float32)
    dents = 1 + amount * 0.45 * _profile_noise(rng, h, 9)
    kink = rng.uniform(0.25, 0.75)
    bend = (
        amount
        * radius
        * (
            rng.normal(0, 0.8) * np.sin(np.pi * t)
            + rng.normal(0, 1.2) * np.clip(t - kink, 0, None)
        )
    )
    crease = amount * 0.5 * _smooth_noise(rng, h, max(width, 1), 6)
    return dents.astype(np.float32), bend.astype(np.float32), crease


_PET_TINTS = (
    ((0.80, 0.86, 0.90), 0.40),
    ((0.55, 0.72, 0.92), 0.55),
    ((0.40, 0.72, 0.45), 0.65),
    ((0.50, 0.30, 0.12), 0.80),
)
_GLASS_TINTS = (
    ((0.10, 0.36, 0.14), 0.90),
    ((0.32, 0.16, 0.05), 0.93),
    ((0.75, 0.80, 0.78), 0.55),
    ((0.12, 0.22, 0.55), 0.90),
)
_BRIGHT = np.array(
    [
        (0.85, 0.12, 0.10),
        (0.12, 0.30, 0.80),
        (0.95, 0.85, 0.15),
        (0.10, 0.55, 0.20),
        (0.95, 0.95, 0.95),
        (0.08, 0.08, 0.08),
        (0.95, 0.50, 0.10),
        (0.70, 0.72, 0.75),
        (0.55, 0.10, 0.45),
    ]
)
# aspect (length / diameter), neck radius, cap length, neck length, shoulder length,
# shoulder roundness, glass?, waist, ridges?
_BOTTLE_STYLES = {
    "pet_water": (3.6, 0.32, 0.05, 0.08, 0.20, 2.0, False, 0.0, True),
    "pet_soda": (3.2, 0.30, 0.05, 0.07, 0.24, 2.5, False, 0.08, False),
    "glass_beer": (3.1, 0.36, 0.03, 0.24, 0.12, 1.6, True, 0.0, False),
    "glass_wine": (4.0, 0.28, 0.10, 0.22, 0.08, 3.0, True, 0.0, False),
    "glass_juice": (3.0, 0.42, 0.05, 0.10, 0.22, 1.3, True, 0.0, False),
}


def _pick(rng: np.random.Generator, options: Any, vary: float, default: int = 0) -> int:
    """Index of ``options``: random with probability ``vary``, else ``default``."""
    k, u = rng.integers(len(options)), rng.random()
    return int(k) if u < vary else default


def _bottle(
    rng: np.random.Generator, ctx: _Ctx, length: float, light: float
) -> Image.Image:
    iv = ctx.ch.intra_class
    names = list(_BOTTLE_STYLES)
    style = names[_pick(rng, names, iv)]
    aspect, neck, cap_len, neck_len, shoulder, round_p, glass, waist, ridges = (
        _BOTTLE_STYLES[style]
    )
    aspect *= math.exp(iv * 0.18 * rng.normal())
    neck = float(np.clip(neck + iv * 0.05 * rng.normal(), 0.2, 0.5))
    neck_len *= math.exp(iv * 0.3 * rng.normal())
    shoulder *= math.exp(iv * 0.3 * rng.normal())
    tints = _GLASS_TINTS if glass else _PET_TINTS
    tint_k = _pick(rng, tints, iv, default=0 if glass else 1)
    tint, opacity = tints[tint_k]
    tint = np.array(tint) * np.exp(iv * 0.08 * rng.normal(size=3))
    has_cap = rng.random() >= 0.4 * iv
    cap_colour = _BRIGHT[_pick(rng, _BRIGHT, iv, default=1)]
    has_label = rng.random() >= 0.5 * iv
    label_colours = _BRIGHT[[_pick(rng, _BRIGHT, iv, 4), _pick(rng, _BRIGHT, iv, 1)]]
    label_at, label_len = rng.uniform(0.05, 0.2), rng.uniform(0.2, 0.45)
    amount = ctx.ch.deformation * rng.uniform(0.3, 1.0) * (0.2 if glass else 1.0)
    length *= 1 - 0.25 * amount * rng.random()

    h = max(6, int(round(length)))
    radius_px = length / (2 * aspect)
    t = (np.arange(h, dtype=np.float32) + 0.5) / h
    neck_end = cap_len + neck_len
    body_top = neck_end + shoulder
    r = np.ones(h, dtype=np.float32)
    r[t < neck_end] = neck
    r[(t >= cap_len) & (t < cap_len + 0.025)] = neck * 1.12  # lip ring
    if has_cap:
        r[t < cap_len] = neck * 1.15
    in_shoulder = (t >= neck_end) & (t < body_top)
    ease = 1 - (1 - (t[in_shoulder] - neck_end) / shoulder) ** round_p
    r[in_shoulder] = neck + (1 - neck) * ease
    r *= 1 - 0.12 * np.clip((t - 0.96) / 0.04, 0, 1) ** 2
    r *= 1 - waist * np.exp(-(((t - 0.62) / 0.1) ** 2))

    rows = np.tile(tint, (h, 1)).astype(np.float32)
    alpha = np.full(h, opacity, dtype=np.float32)
    if ridges:
        ridge = (np.sin(t * 2 * np.pi * 14) > 0.6) & (t > body_top)
        rows[ridge] *= 0.85
    if has_label:
        top = body_top + label_at * (1 - body_top)
        bottom = min(0.95, top + label_len * (1 - body_top))
        band = (t >= top) & (t < bottom)
        rows[band], alpha[band] = label_colours[0], 1.0
        middle = band & (np.abs(t - (top + bottom) / 2) < (bottom - top) * 0.15)
        rows[middle] = label_colours[1]
    if has_cap:
        cap = t < cap_len
        rows[cap], alpha[cap] = cap_colour, 1.0
    dents, bend, crease = _deform(rng, h, int(2 * radius_px) + 6, radius_px, amount)
    width = int(2 * math.ceil(float(np.max(r * dents * radius_px + np.abs(bend))))) + 4
    crease = _fit_width(crease, width)
    sprite = _revolved(
        r * dents * radius_px,
        rows,
        alpha,
        light,
        bend=bend,
        gloss=0.55 if glass else 0.45,
        crease=crease,
    )
    # clear and tinted see-through PET counts as "clear", the brown PET as "other"
    material = "glass" if glass else "clear" if tint_k < 3 else "other"
    sprite.info["category"] = f"{material}_bottle"
    return sprite


def _fit_width(field: np.ndarray, width: int) -> np.ndarray:
    """Resize a (h, w) shading field to (h, width)."""
    if field.shape[1] == width:
        return field
    return np.asarray(Image.fromarray(field).resize((width, field.shape[0]), _BICUBIC))


def _cylinder(
    rng: np.random.Generator,
    ctx: _Ctx,
    length: float,
    light: float,
    aspect: float,
    r: np.ndarray,
    rows: np.ndarray,
    alpha: np.ndarray,
    *,
    metal: bool,
    crush: float,
    gloss: float,
) -> Image.Image:
    """Shared end of cans, cups and butts: deform, then shade as a round object."""
    h = r.size
    radius_px = length / (2 * aspect)
    amount = ctx.ch.deformation * rng.uniform(0.3, 1.0) * crush
    dents, bend, crease = _deform(rng, h, int(2 * radius_px) + 6, radius_px, amount)
    width = int(2 * math.ceil(float(np.max(r * dents * radius_px + np.abs(bend))))) + 4
    return _revolved(
        r * dents * radius_px,
        rows,
        alpha,
        light,
        bend=bend,
        gloss=gloss,
        metal=metal,
        crease=_fit_width(crease, width),
    )


def _can(
    rng: np.random.Generator,
    ctx: _Ctx,
    length: float,
    light: float,
    aspect: float = 1.85,
) -> Image.Image:
    aspect *= math.exp(rng.normal(0, 0.06))
    colours = _BRIGHT[rng.integers(len(_BRIGHT), size=2)]
    squash = 1 - 0.45 * ctx.ch.deformation * rng.random()  # crushed flat along its axis
    h = max(2, int(round(length * squash)))
    t = (np.arange(h, dtype=np.float32) + 0.5) / h
    r = np.ones(h, dtype=np.float32)
    r[t < 0.03] = 0.86
    top = (t >= 0.03) & (t < 0.08)
    r[top] = 0.86 + 0.14 * (t[top] - 0.03) / 0.05
    r *= 1 - 0.1 * np.clip((t - 0.94) / 0.06, 0, 1)
    rows = np.tile(colours[0], (h, 1)).astype(np.float32)
    band_at = rng.uniform(0.25, 0.55)
    rows[(t > band_at) & (t < band_at + 0.2)] = colours[1]
    rows[(t < 0.08) | (t > 0.94)] = (0.72, 0.72, 0.74)
    return _cylinder(
        rng,
        ctx,
        length,
        light,
        aspect,
        r,
        rows,
        np.ones(h, np.float32),
        metal=True,
        crush=1.3,
        gloss=0.6,
    )


def _tall_can(
    rng: np.random.Generator, ctx: _Ctx, length: float, light: float
) -> Image.Image:
    return _can(rng, ctx, length, light, aspect=2.9)


def _cup(
    rng: np.random.Generator, ctx: _Ctx, length: float, light: float
) -> Image.Image:
    aspect = 1.35 * math.exp(rng.normal(0, 0.12))
    h = max(2, int(round(length)))
    t = (np.arange(h, dtype=np.float32) + 0.5) / h
    taper = rng.uniform(0.2, 0.35)
    r = 1 - taper * t
    r[t < 0.04] = 1.05
    kind = rng.integers(4)
    colour, opacity = [
        ((0.93, 0.93, 0.9), 1.0),
        ((0.78, 0.1, 0.1), 1.0),
        ((0.62, 0.46, 0.3), 1.0),
        ((0.85, 0.88, 0.9), 0.45),
    ][kind]
    rows = np.tile(colour, (h, 1)).astype(np.float32)
    alpha = np.full(h, opacity, dtype=np.float32)
    rows[t < 0.04] = np.minimum(np.array(colour) * 1.2 + 0.1, 1)
    alpha[t < 0.04] = 1.0
    if rng.random() < 0.4:  # a printed band or sleeve
        sleeve = (t > 0.3) & (t < rng.uniform(0.55, 0.8))
        rows[sleeve], alpha[sleeve] = _BRIGHT[rng.integers(len(_BRIGHT))], 1.0
    return _cylinder(
        rng,
        ctx,
        length,
        light,
        aspect,
        r,
        rows,
        alpha,
        metal=False,
        crush=1.0,
        gloss=0.25,
    )


def _butt(
    rng: np.random.Generator, ctx: _Ctx, length: float, light: float
) -> Image.Image:
    aspect = rng.uniform(3.5, 5.0)
    h = max(2, int(round(length)))
    t = (np.arange(h, dtype=np.float32) + 0.5) / h
    r = np.ones(h, dtype=np.float32)
    rows = np.tile((0.92, 0.92, 0.88), (h, 1)).astype(np.float32)
    rows[t < rng.uniform(0.35, 0.5)] = (0.82, 0.6, 0.35)
    rows[t > 0.93] = (0.3, 0.28, 0.26)
    return _cylinder(
        rng,
        ctx,
        length,
        light,
        aspect,
        r,
        rows,
        np.ones(h, np.float32),
        metal=False,
        crush=0.5,
        gloss=0.1,
    )


def _flat_sprite(
    size: tuple[float, float], colour: np.ndarray
) -> tuple[Image.Image, Image.Image, ImageDraw.ImageDraw, ImageDraw.ImageDraw]:
    """An RGB canvas (filled with ``colour``) and an alpha mask, at twice the size."""
    w, h = max(4, int(round(size[0] * 2))), max(4, int(round(size[1] * 2)))
    rgb = Image.new("RGB", (w, h), _rgb(colour))
    mask = Image.new("L", (w, h), 0)
    return rgb, mask, ImageDraw.Draw(rgb), ImageDraw.Draw(mask)


def _finish_flat(rgb: Image.Image, mask: Image.Image) -> Image.Image:
    rgb.putalpha(mask)
    return rgb.resize((rgb.width // 2, rgb.height // 2), Image.Resampling.LANCZOS)


def _carton(
    rng: np.random.Generator, ctx: _Ctx, length: float, light: float
) -> Image.Image:
    """A drink carton seen at an angle: front, side and top faces."""
    w, d = length * rng.uniform(0.45, 0.65), length * rng.uniform(0.15, 0.3)
    colour = _BRIGHT[rng.integers(len(_BRIGHT))]
    rgb, mask, draw, mdraw = _flat_sprite((w + d + 2, length + d / 2 + 2), colour)
    k = 2.0
    jitter = ctx.ch.deformation * 0.15 * w * k
    faces = {
        "front": [(1, d / 2), (w, d / 2), (w, length + d / 2), (1, length + d / 2)],
        "side": [(w, d / 2), (w + d, 1), (w + d, length), (w, length + d / 2)],
        "top": [(1, d / 2), (d, 1), (w + d, 1), (w, d / 2)],
    }
    shade = {"front": 1.0 + 0.15 * light, "side": 0.7 - 0.15 * light, "top": 1.15}
    offsets = rng.normal(0, 1, (3, 4, 2)) * jitter
    for (name, points), offset in zip(faces.items(), offsets, strict=True):
        pts = [
            (x * k + o[0], y * k + o[1])
            for (x, y), o in zip(points, offset, strict=True)
        ]
        draw.polygon(pts, fill=_rgb(colour * shade[name]))
        mdraw.polygon(pts, fill=255)
    band_y = rng.uniform(0.3, 0.6) * length + d / 2
    draw.rectangle(
        [2, band_y * k, w * k, (band_y + 0.2 * length) * k],
        fill=_rgb((0.95, 0.95, 0.93)),
    )
    for _ in range(rng.integers(0, 4)):  # creases
        y = rng.uniform(d / 2, length) * k
        draw.line(
            [(2, y), (w * k, y + rng.normal(0, 3))], fill=_rgb(colour * 0.6), width=2
        )
    return _finish_flat(rgb, mask)


def _blob(
    rng: np.random.Generator,
    centre: tuple[float, float],
    rx: float,
    ry: float,
    roughness: float,
    points: int = 18,
) -> list[tuple[float, float]]:
    s = np.linspace(0, 2 * np.pi, points, endpoint=False)
    wobble = 1 + roughness * _profile_noise(rng, points + 1, 6)[:points]
    wobble *= 1 + 0.5 * roughness * rng.uniform(-1, 1, points)
    return [
        (centre[0] + rx * w * math.cos(a), centre[1] + ry * w * math.sin(a))
        for a, w in zip(s, wobble, strict=True)
    ]


def _paper(
    rng: np.random.Generator, ctx: _Ctx, length: float, light: float
) -> Image.Image:
    """Crumpled paper (a rough ball with creases) or a flat sheet with printed lines."""
    colour = [
        np.array((0.93, 0.92, 0.88)),
        np.array((0.85, 0.82, 0.7)),
        np.array((0.7, 0.7, 0.68)),
        np.array((0.65, 0.5, 0.33)),
    ][rng.integers(4)]
    crumpled = rng.random() < 0.5 + 0.4 * ctx.ch.deformation
    w = length * (rng.uniform(0.7, 1.0) if crumpled else rng.uniform(0.6, 0.8))
    rgb, mask, draw, mdraw = _flat_sprite((w, length), colour)
    W, H = rgb.size
    if crumpled:
        mdraw.polygon(_blob(rng, (W / 2, H / 2), W * 0.45, H * 0.45, 0.25), fill=255)
        for _ in range(8):
            a, b = rng.uniform(0, 1, 2) * (W, H), rng.uniform(0, 1, 2) * (W, H)
            tone = colour * rng.choice([0.7, 1.12])
            draw.line([tuple(a), tuple(b)], fill=_rgb(tone), width=2)
    else:
        corners = np.array([(0.05, 0.05), (0.95, 0.05), (0.95, 0.95), (0.05, 0.95)]) * (
            W,
            H,
        )
        corners += rng.normal(0, 0.03 + 0.05 * ctx.ch.deformation, (4, 2)) * (W, H)
        mdraw.polygon([tuple(p) for p in corners], fill=255)
        for y in np.arange(0.15, 0.85, 0.09) * H:
            draw.line(
                [(0.15 * W, y), (rng.uniform(0.5, 0.85) * W, y)],
                fill=_rgb(colour * 0.5),
                width=2,
            )
    return _finish_flat(rgb, mask)


def _bag(
    rng: np.random.Generator, ctx: _Ctx, length: float, light: float
) -> Image.Image:
    """A plastic bag: a soft, see-through blob with folds."""
    colour, opacity = [
        ((0.95, 0.95, 0.95), 0.6),
        ((0.3, 0.45, 0.8), 0.8),
        ((0.1, 0.1, 0.1), 0.9),
        ((0.4, 0.7, 0.4), 0.7),
        ((0.92, 0.6, 0.7), 0.7),
        ((0.85, 0.88, 0.9), 0.4),
    ][rng.integers(6)]
    colour = np.array(colour)
    w = length * rng.uniform(0.5, 0.9)
    rgb, mask, draw, mdraw = _flat_sprite((w, length), colour)
    W, H = rgb.size
    mdraw.polygon(
        _blob(rng, (W / 2, H / 2), W * 0.42, H * 0.45, 0.3 + 0.2 * ctx.ch.deformation),
        fill=int(opacity * 255),
    )
    for _ in range(rng.integers(3, 8)):  # folds catch the light or fall in shade
        a, b = rng.uniform(0.1, 0.9, 2) * (W, H), rng.uniform(0.1, 0.9, 2) * (W, H)
        tone = np.clip(colour * rng.choice([0.65, 1.3]) + 0.05, 0, 1)
        draw.line([tuple(a), tuple(b)], fill=_rgb(tone), width=max(2, int(W / 12)))
    return _finish_flat(rgb.filter(ImageFilter.GaussianBlur(1.0)), mask)


# ------------------------------------------------------------------------ occlusion


def _occlude(
    scene: Image.Image,
    ground: Image.Image,
    rng: np.random.Generator,
    ctx: _Ctx,
    obj: _Placed,
) -> None:
    """Cover part of an object with sand (ground), leaves, grass or other litter."""
    occ = ctx.ch.occlusion
    u, which, frac = rng.random(), rng.random(), rng.uniform(0.25, 0.65)
    where = rng.uniform(-1, 1)
    if u >= occ:
        return
    frac *= 0.4 + 0.6 * occ
    weights = {
        "sand": (0.6, 0.2, 0.0, 0.2),
        "grass": (0.15, 0.15, 0.45, 0.25),
        "asphalt": (0.2, 0.4, 0.0, 0.4),
        "leaves": (0.3, 0.5, 0.0, 0.2),
        "water": (0.6, 0.15, 0.0, 0.25),
    }[ctx.background]
    kind = ("bury", "leaves", "grass", "litter")[
        int(np.searchsorted(np.cumsum(weights), which))
    ]
    ax, ay = obj.axis()
    along = where * (0.5 - frac / 2) * obj.length  # centre of the covered stretch
    cx, cy = obj.cx + ax * along, obj.cy + ay * along
    reach = frac * obj.length / 2
    if kind == "bury":
        mask = Image.new("L", scene.size, 0)
        outline = _blob(rng, (0.0, 0.0), reach + ctx.px, 0.75 * obj.width, 0.2)
        c, s = ax, ay
        pts = [(cx + x * c - y * s, cy + x * s + y * c) for x, y in outline]
        ImageDraw.Draw(mask).polygon(pts, fill=255)
        scene.paste(ground, (0, 0), mask.filter(ImageFilter.GaussianBlur(0.8 * ctx.px)))
    elif kind == "leaves":
        draw = ImageDraw.Draw(scene)
        count = int(rng.integers(1, 4))
        centres = np.array([cx, cy]) + rng.normal(0, 0.3, (count, 2)) * reach
        length = max(reach * 1.6, obj.width * 1.2, 0.04 * ctx.size)
        _draw_leaves(
            draw, rng, centres, np.full(count, length) * rng.uniform(0.8, 1.2, count)
        )
    elif kind == "grass":
        box = (
            cx - reach - obj.width / 2,
            cy - reach - obj.width / 2,
            cx + reach + obj.width / 2,
            cy + reach + obj.width / 2,
        )
        _blades(ImageDraw.Draw(scene), rng, ctx, int(20 + 60 * frac), box)
    else:
        maker = _paper if rng.random() < 0.5 else _bag
        sprite = maker(rng, ctx, max(2.2 * reach, obj.width * 1.5), 0.0)
        _paste(
            scene,
            sprite,
            _Placed(cx, cy, rng.uniform(-180, 180), sprite.height, sprite.width),
            ctx,
        )


# ------------------------------------------------------------------------ light, camera


def _light_and_camera(
    scene: Image.Image, rng: np.random.Generator, grain: np.random.Generator, ctx: _Ctx
) -> Image.Image:
    """Brightness, contrast, colour cast, light gradient, shade, blur, sensor noise."""
    il, s = ctx.ch.illumination, ctx.size
    gain = math.exp(il * rng.normal(0, 0.35))
    contrast = math.exp(il * rng.normal(0, 0.3))
    cast = np.exp(il * rng.normal(0, 0.1, 3))
    ramp_angle, ramp = rng.uniform(0, 2 * np.pi), il * rng.uniform(0, 0.7)
    shade_on, shade_depth = rng.random() < 0.7 * il, il * rng.uniform(0.3, 0.6)
    shade_field = _smooth_noise(rng, s, s, 5)
    noise_level = 0.01 + 0.025 * il * rng.random()

    a = _soften(np.asarray(scene, dtype=np.float32) / 255, min(0.25 * ctx.px, 0.5))
    a = a * (gain * cast).astype(np.float32)
    mean = float(a.mean())
    a = (a - mean) * contrast + mean
    coords = np.linspace(-0.5, 0.5, s, dtype=np.float32)
    ramp_map = (
        math.cos(ramp_angle) * coords[None, :] + math.sin(ramp_angle) * coords[:, None]
    )
    light_map = 1 + np.float32(ramp) * ramp_map
    if shade_on:
        light_map = light_map * (
            1 - shade_depth * np.clip((shade_field - 0.1) * 3, 0, 1)
        )
    a = a * light_map[..., None]
    a = a + noise_level * _grain(grain, a.shape)
    return Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))


def _grain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Pixel noise, mean 0 and standard deviation 1 (uniform: cheaper than Gaussian)."""
    return (rng.random(shape, dtype=np.float32) - np.float32(0.5)) * np.float32(
        math.sqrt(12)
    )


def _soften(a: np.ndarray, weight: float) -> np.ndarray:
    """A slight camera blur of (H, W, C): a pixel mixes ``weight`` of each neighbour."""
    w = np.float32(weight)
    out = a * (1 - 2 * w)
    out[1:] += w * a[:-1]
    out[:-1] += w * a[1:]
    out[0] += w * a[0]
    out[-1] += w * a[-1]
    res = out * (1 - 2 * w)
    res[:, 1:] += w * out[:, :-1]
    res[:, :-1] += w * out[:, 1:]
    res[:, 0] += w * out[:, 0]
    res[:, -1] += w * out[:, -1]
    return res
