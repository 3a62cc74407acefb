"""Is the synthetic data set a fair stand-in for TACO? Train the course models and see.

Generates the default synthetic scenes (1,500 at 50x50 grayscale, calibrated to TACO: its
bottle share, objects per photo and object sizes), splits them 80/10/10 and prints
accuracy, precision, recall and F1 of the bottle class on the test split for a
majority-class guess, an always-bottle guess, the course MLP, the course CNN and (with
``--strong``) a stronger CNN with batch normalisation and augmentation. The scores say how
hard the stand-in is for the course's models; on TACO's own photos at 50x50 the course
reported a bottle F1 of 0.12 for its CNN, below the always-bottle guess.

    python bench/check_synthetic_fairness.py [--n 1500] [--seed 0] [--epochs 30] [--strong]
        [--repeats 1] [--grid /tmp/synthetic_grid.png]

Takes a few minutes on 2 CPU cores (longer with ``--strong``).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def course_mlp(shape: tuple[int, int, int]):
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(2, activation="softmax"),
        ]
    )


def course_cnn(shape: tuple[int, int, int]):
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )


def strong_cnn(shape: tuple[int, int, int]):
    import keras
    from keras import layers

    def block(x, filters):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        return layers.MaxPooling2D(2)(x)

    inputs = keras.Input(shape)
    x = layers.RandomFlip("horizontal_and_vertical")(inputs)
    x = layers.RandomRotation(0.5, fill_mode="reflect")(x)
    x = layers.RandomZoom((-0.15, 0.15), fill_mode="reflect")(x)
    for filters in (16, 32, 64):
        x = block(x, filters)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def bottle_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, zero_division=0),
        "recall": recall_score(y_true, y_pred, zero_division=0),
        "f1": f1_score(y_true, y_pred, zero_division=0),
    }


def train_and_score(
    build, splits, epochs: int, seed: int, fresh=None, best_on_val=False
) -> tuple[dict[str, float], dict[str, float] | None, float]:
    """Train on the train split; scores on the test split and on ``fresh`` (x, y) if given.

    ``best_on_val`` keeps the weights of the epoch with the lowest validation loss.
    """
    import keras

    keras.utils.set_random_seed(seed)
    x_train = splits.x_train.astype("float32") / 255
    x_test = splits.x_test.astype("float32") / 255
    counts = np.bincount(splits.y_train, minlength=2)
    class_weight = {c: len(splits.y_train) / (2 * counts[c]) for c in range(2)}
    model = build(splits.image_shape)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    callbacks = (
        [
            keras.callbacks.EarlyStopping(
                "val_loss", patience=epochs, restore_best_weights=True
            )
        ]
        if best_on_val
        else []
    )
    model.fit(
        x_train,
        splits.y_train,
        epochs=epochs,
        batch_size=32,
        class_weight=class_weight,
        validation_data=(splits.x_val.astype("float32") / 255, splits.y_val),
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    y_pred = model.predict(x_test, verbose=0).argmax(axis=1)
    fresh_scores = None
    if fresh is not None:
        fresh_pred = model.predict(fresh[0].astype("float32") / 255, verbose=0).argmax(
            axis=1
        )
        fresh_scores = bottle_scores(fresh[1], fresh_pred)
    return bottle_scores(splits.y_test, y_pred), fresh_scores, seconds


def save_grid(path: str, seed: int, render_size: int = 96) -> None:
    """24 scenes (12 with a bottle, 12 without): in colour at render size, then 50x50 gray."""
    from PIL import Image, ImageDraw

    from wastelab.data.images import to_array
    from wastelab.data.synthetic import render_scene, scene_seed

    tiles, small = [], []
    for i in range(24):
        has_bottle = i % 2 == 0
        scene = render_scene(scene_seed(seed, i), has_bottle, render_size)
        gray = to_array(scene, (50, 50), "gray")[..., 0]
        tile = Image.fromarray(scene)
        ImageDraw.Draw(tile).rectangle(
            [0, 0, render_size - 1, render_size - 1],
            outline=(0, 220, 0) if has_bottle else (220, 0, 0),
        )
        tiles.append(tile)
        small.append(
            Image.fromarray(gray)
            .resize((render_size, render_size), Image.Resampling.NEAREST)
            .convert("RGB")
        )
    cols, gap = 6, 4
    rows = 2 * (len(tiles) // cols)
    grid = Image.new(
        "RGB", (cols * (render_size + gap), rows * (render_size + gap)), "white"
    )
    for k, tile in enumerate(tiles + small):
        r, c = divmod(k, cols)
        grid.paste(tile, (c * (render_size + gap), r * (render_size + gap)))
    grid.save(path)
    print(
        f"grid of scenes saved to {path} (green frame: bottle; bottom half: 50x50 gray)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--repeats", type=int, default=1, help="training seeds per model"
    )
    parser.add_argument(
        "--strong", action="store_true", help="also train a stronger CNN"
    )
    parser.add_argument("--strong-epochs", type=int, default=40)
    parser.add_argument(
        "--grid", default=None, help="save a grid of scenes to this PNG"
    )
    parser.add_argument(
        "--fresh",
        type=int,
        default=1000,
        help="also score on this many fresh scenes (another seed): less noisy",
    )
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()

    from wastelab.data import stratified_split
    from wastelab.data.synthetic import make_scenes

    if args.grid:
        save_grid(args.grid, args.seed)
    start = time.perf_counter()
    x, y, meta = make_scenes(n=args.n, seed=args.seed)
    print(
        f"generated {len(y)} scenes {x.shape[1:]} in {time.perf_counter() - start:.1f} s; "
        f"bottle share {y.mean():.3f}; challenges {meta['challenges']}"
    )
    if args.skip_train:
        return
    splits = stratified_split(x, y, seed=args.seed, meta=meta)
    print(splits.summary())

    fresh = None
    if args.fresh:
        x_fresh, y_fresh, _ = make_scenes(n=args.fresh, seed=args.seed + 1000)
        fresh = (x_fresh, y_fresh)
    majority = [
        bottle_scores(splits.y_test, np.zeros_like(splits.y_test)),
        bottle_scores(y_fresh, np.zeros_like(y_fresh)) if fresh else None,
        0.0,
    ]
    always = [
        bottle_scores(splits.y_test, np.ones_like(splits.y_test)),
        bottle_scores(y_fresh, np.ones_like(y_fresh)) if fresh else None,
        0.0,
    ]
    rows = [("majority guess", *majority), ("always bottle", *always)]
    models = [
        ("course MLP", course_mlp, args.epochs, False),
        ("course CNN", course_cnn, args.epochs, False),
    ]
    if args.strong:
        models.append(("strong CNN", strong_cnn, args.strong_epochs, True))
    for name, build, epochs, best_on_val in models:
        for r in range(args.repeats):
            scores, fresh_scores, seconds = train_and_score(
                build, splits, epochs, args.seed + r, fresh, best_on_val
            )
            rows.append(
                (f"{name} (seed {args.seed + r})", scores, fresh_scores, seconds)
            )
            print(
                f"  {rows[-1][0]}: test F1 {scores['f1']:.3f} in {seconds:.0f} s",
                flush=True,
            )

    tables = [("test split", splits.y_test, 1)]
    if fresh:
        tables.append(
            (f"{args.fresh} fresh scenes (seed {args.seed + 1000})", y_fresh, 2)
        )
    for title, y_true, column in tables:
        print(
            f"\n{title}: {len(y_true)} images, {int(y_true.sum())} bottles; bottle class:"
        )
        print(
            f"{'model':28s} {'accuracy':>9s} {'precision':>10s} {'recall':>7s} {'F1':>6s} "
            f"{'train s':>8s}"
        )
        for row in rows:
            s, seconds = row[column], row[3]
            print(
                f"{row[0]:28s} {s['accuracy']:9.3f} {s['precision']:10.3f} "
                f"{s['recall']:7.3f} {s['f1']:6.3f} {seconds:8.0f}"
            )


if __name__ == "__main__":
    main()
