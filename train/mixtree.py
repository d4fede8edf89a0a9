"""One class-folder training tree from several sources, for fine-tuning on a mix.

    python -m colorbatch.train.mixtree data/mix \
        data/tiny-imagenet-64/train data/cifar10/train --photos data/photos-train --scales 64,96,128 --repeats 4

Class-folder sources are linked in, their folders prefixed by the source's name: hard links, file
by file, so nothing is copied (the trainer's folder walk does not follow symlinked folders).
Photo folders are rendered at each of ``--scales`` (short side, bicubic), so that the trainer's
centred square crop at 64 px sees each photo whole and at two closer views: the sizes the runtime
meets when it works on a large photo at its working size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from colorbatch.files.discover import is_image_path, iter_images


def link_class_folders(source: Path, out: Path) -> int:
    """Link each class folder of ``source`` as ``out/<source name>-<class>``; the number of images."""
    count = 0
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        target = out / f"{source.parent.name}-{source.name}-{folder.name}"
        target.mkdir(exist_ok=True)
        for image in sorted(p for p in folder.iterdir() if is_image_path(p)):
            if not (target / image.name).exists():
                (target / image.name).hardlink_to(image)
            count += 1
    return count


def render_photos(source: Path, out: Path, scales: list[int], repeats: int = 1) -> int:
    """Each photo under ``source`` resized to every short side in ``scales``, as JPEG q95, and
    hard-linked ``repeats`` times so that a small photo set weighs more in an epoch."""
    folder = out / f"photos-{source.name}"
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in iter_images(source):
        with Image.open(path) as image:
            image = image.convert("RGB")
            for side in scales:
                target = folder / f"{path.parent.name}-{path.stem}-{side}.jpg"
                if not target.exists():
                    scale = side / min(image.size)
                    size = (max(side, round(image.width * scale)), max(side, round(image.height * scale)))
                    image.resize(size, Image.Resampling.BICUBIC).save(target, quality=95)
                for repeat in range(1, repeats):
                    copy = target.with_stem(f"{target.stem}-r{repeat}")
                    if not copy.exists():
                        copy.hardlink_to(target)
                count += repeats
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("class_trees", type=Path, nargs="*", help="folders of class folders, linked in")
    parser.add_argument("--photos", type=Path, action="append", default=[], help="photo folders, rendered")
    parser.add_argument("--scales", default="64,96,128", help="short sides the photos are rendered at")
    parser.add_argument("--repeats", type=int, default=1, help="copies of each rendering in the tree")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for tree in args.class_trees:
        print(f"{tree}: {link_class_folders(tree, args.out)} images linked")
    scales = [int(s) for s in args.scales.split(",")]
    for photos in args.photos:
        print(f"{photos}: {render_photos(photos, args.out, scales, args.repeats)} renderings")


if __name__ == "__main__":
    main()
