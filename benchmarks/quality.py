"""Quality on real photos and on CIFAR-10, at several vividness settings, through `colorbatch run`
then `colorbatch score`'s code; a vividness sweep plot and a gallery to look at.

    python benchmarks/quality.py [--model M.onnx] [--compare NAME=PATH ...] [--no-sweep]

Sets (extracted from ../shared/datasets when missing): tiny-imagenet-64/val (every 10th of 9,902
photos, 64 px, as issue 26's bar has it),
photos-eval/cbsd68 (68, 481x321), photos-eval/mcmaster (18, 500x500), cifar10/test (every 10th of
10,000, 32 px; a model that scales small inputs up to 128 px takes minutes a setting on all of them),
and photos-large/val (every 10th of 2,213 photos of 224-400 px; made by
../shared/datasets/photos-large.py, skipped when data/photos-large is missing). For each: the
no-colour baseline (the truth against its own gray copy) and the model at vividness 0, its default
and 1, with PSNR, SSIM, colourfulness and hue hits, checked against issue 19's and issue 26's bars.
The sweep runs vividness 0, 0.1, ..., 1 on a fixed subset of each set (every 5th tiny-imagenet
photo, every 10th CIFAR-10 image and photos-large photo, all of the others) and applies the rule
for the default: the most colourful setting whose PSNR is within
0.3 dB of the best, on photos-large/val (photos of the size users bring; tiny-imagenet-64/val
where photos-large is missing).

Writes benchmarks/results/quality.{md,json}, quality_sweep.{md,json}, vividness_sweep.png and
gallery.png (gray | default | vividness 1 | truth, a fixed sample of the evaluation photos).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from common import DATA, RESULTS, WORK, colorbatch, every_nth, extracted, gray_copy, timed, write_results

from colorbatch.inference.modelinfo import bundled_model_path
from colorbatch.inference.session import ModelSession
from colorbatch.work.score import score_trees

SETS = {  # name: (folder under data/, tarball (None: made by a script), subset step for the sweep, for the table)
    "tiny-imagenet-64/val": ("tiny-imagenet-64/val", "tiny-imagenet-64.tar", 5, 10),
    "cbsd68": ("photos-eval/cbsd68", "photos-eval.tar", 1, 1),
    "mcmaster": ("photos-eval/mcmaster", "photos-eval.tar", 1, 1),
    "cifar10/test": ("cifar10/test", "cifar10-jpg.tar", 10, 10),
    "photos-large/val": ("photos-large/val", None, 10, 10),
}
SWEEP = [round(0.1 * i, 1) for i in range(11)]
RULE_DB = 0.3
RULE_SETS = ("photos-large/val", "tiny-imagenet-64/val")  # the default is chosen on the first one swept
# The gallery's fixed sample: every n-th file of each set in sorted order (not picked by looking).
GALLERY = {"cbsd68": 12, "mcmaster": 6, "photos-large/val": 300, "tiny-imagenet-64/val": 1981}
GALLERY_HEIGHT = 240  # px per row: large enough to judge an object's colour


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def colorize(model: str, gray: Path, name: str, vividness: float | None) -> tuple[Path, float]:
    out = WORK / "quality" / slug(name)
    shutil.rmtree(out, ignore_errors=True)
    args = ["run", str(gray), str(out), "--model", model, "--device", "cpu", "--quiet"]
    if vividness is not None:
        args += ["--vividness", str(vividness)]
    _, seconds = timed(colorbatch, args)
    return out, seconds


def scores(pred: Path, truth: Path) -> dict:
    aggregate = score_trees(pred, truth).summary.aggregate()
    return {key: aggregate[key] for key in ("psnr_mean", "ssim_mean", "colourfulness_mean",
                                             "colourfulness_truth_mean", "hue_hits_mean", "scored")}


def truth_folder(set_name: str, step: int = 1) -> Path:
    """The set's colour photos (every ``step``-th, copied once, when step > 1)."""
    folder, tarball = SETS[set_name][:2]
    truth = extracted(folder, tarball) if tarball else DATA / folder
    return every_nth(truth, slug(set_name), step) if step > 1 else truth


def available_sets() -> None:
    """Leave out the sets made by a script that has not been run here."""
    for name, (folder, tarball, *_) in list(SETS.items()):
        if tarball is None and not (DATA / folder).is_dir():
            print(f"{name}: data/{folder} is missing (see ../shared/datasets/README.md); left out")
            del SETS[name]


def bars_issue26(set_name: str, vividness: str, row: dict, no_colour: float) -> str:
    """Issue 26's bar for this row ('' where none applies)."""
    psnr, colour, truth = row["psnr_mean"], row["colourfulness_mean"], row["colourfulness_truth_mean"]
    hits = row["hue_hits_mean"]
    rules = {
        ("cbsd68", "default"): psnr >= no_colour + 1.3 and colour >= 0.8 * truth and hits >= 0.55,
        ("cbsd68", "1"): colour >= 0.95 * truth and psnr >= no_colour + 0.5,
        ("mcmaster", "default"): psnr >= no_colour + 1.2 and colour >= 0.5 * truth,
        ("photos-large/val", "default"): psnr >= no_colour + 1.2 and colour >= 0.7 * truth and hits >= 0.6,
        ("tiny-imagenet-64/val", "default"): psnr >= no_colour + 1.0,
        ("cifar10/test", "0"): psnr >= 25.9,
    }
    if (set_name, vividness) not in rules:
        return ""
    return "met" if rules[(set_name, vividness)] else "NOT met"


def bars(set_name: str, vividness: str, row: dict, no_colour: float) -> str:
    """Issue 19's bar for this row, and whether it is met ('' where none applies)."""
    truth = row["colourfulness_truth_mean"]
    psnr, colour = row["psnr_mean"], row["colourfulness_mean"]
    if set_name == "cifar10/test":
        return ("met" if psnr >= 25.9 else "NOT met") if vividness == "0" else ""
    if set_name not in ("tiny-imagenet-64/val", "cbsd68"):
        return ""
    rule = {"0": psnr >= no_colour + 1.0,
            "default": colour >= 0.5 * truth and psnr >= no_colour + 0.5,
            "1": colour >= 0.8 * truth and psnr >= no_colour - 0.5}[vividness]
    return "met" if rule else "NOT met"


def main_table(model: str, default: float, compare: list[list[str]]) -> list[dict]:
    rows = []
    for set_name, (*_, step) in SETS.items():
        truth = truth_folder(set_name, step)
        gray = gray_copy(truth, slug(set_name) + (f"-every-{step}" if step > 1 else ""))
        no_colour = scores(gray, truth)
        rows.append({"set": set_name, "model": "no colour", "vividness": "", **no_colour, "vs_no_colour_db": 0.0,
                     "bar": "", "run_seconds": ""})
        for label, vividness in (("0", 0.0), ("default", default), ("1", 1.0)):
            out, seconds = colorize(model, gray, f"{set_name}-{label}", vividness)
            row = scores(out, truth)
            rows.append({"set": set_name, "model": "new", "vividness": f"{label} ({vividness:g})", **row,
                         "vs_no_colour_db": row["psnr_mean"] - no_colour["psnr_mean"],
                         "bar": bars(set_name, label, row, no_colour["psnr_mean"]),
                         "bar_issue26": bars_issue26(set_name, label, row, no_colour["psnr_mean"]),
                         "run_seconds": seconds})
        for name, path in compare:
            out, seconds = colorize(path, gray, f"{set_name}-{name}", None)
            row = scores(out, truth)
            rows.append({"set": set_name, "model": name, "vividness": "", **row,
                         "vs_no_colour_db": row["psnr_mean"] - no_colour["psnr_mean"], "bar": "",
                         "run_seconds": seconds})
    return rows


def sweep(model: str) -> tuple[list[dict], float | None, str | None]:
    """Every set at each vividness of SWEEP; the rule's choice of default, and the set it chose on."""
    rows = []
    for set_name, (_, _, step, _) in SETS.items():
        truth = truth_folder(set_name, step)
        gray = gray_copy(truth, slug(set_name) + f"-every-{step}")
        no_colour = scores(gray, truth)["psnr_mean"]
        for vividness in SWEEP:
            out, _ = colorize(model, gray, f"sweep-{set_name}-{vividness}", vividness)
            rows.append({"set": set_name, "vividness": vividness, **scores(out, truth), "no_colour_psnr": no_colour})
    rule_set = next((name for name in RULE_SETS if any(r["set"] == name for r in rows)), None)
    if rule_set is None:
        return rows, None, None
    chosen_on = [r for r in rows if r["set"] == rule_set]
    best = max(r["psnr_mean"] for r in chosen_on)
    chosen = max((r for r in chosen_on if r["psnr_mean"] >= best - RULE_DB), key=lambda r: r["colourfulness_mean"])
    return rows, chosen["vividness"], rule_set


def plot_sweep(rows: list[dict], default: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SETS), figsize=(4.2 * len(SETS), 3.8), squeeze=False)
    axes = axes[0]
    for ax, set_name in zip(axes, SETS):
        points = [r for r in rows if r["set"] == set_name]
        x = [r["colourfulness_mean"] for r in points]
        y = [r["psnr_mean"] for r in points]
        ax.plot(x, y, "o-", color="#4a7fb5")
        for r in points:
            if r["vividness"] in (0.0, default, 1.0):
                ax.annotate(f"V={r['vividness']:g}", (r["colourfulness_mean"], r["psnr_mean"]), fontsize=8,
                            xytext=(4, 4), textcoords="offset points")
        ax.axhline(points[0]["no_colour_psnr"], color="gray", ls="--", lw=1, label="no colour PSNR")
        ax.axvline(points[0]["colourfulness_truth_mean"], color="#c0504d", ls=":", lw=1, label="truth colourfulness")
        ax.set_title(f"{set_name} ({points[0]['scored']} images)", fontsize=10)
        ax.set_xlabel("colourfulness (Hasler-Süsstrunk)")
        ax.set_ylabel("mean PSNR (dB)")
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle("PSNR against colourfulness over the vividness sweep (0, 0.1, ..., 1)", fontsize=10, wrap=True)
    fig.tight_layout()
    fig.savefig(RESULTS / "vividness_sweep.png", dpi=90)
    plt.close(fig)


def gallery(model: str, default: float) -> None:
    """gray | default | vividness 1 | truth for a fixed sample, each row GALLERY_HEIGHT px high, each
    column as wide as its widest tile, so the headers stand over their columns."""
    from PIL import Image, ImageDraw

    from colorbatch.api import Colorizer
    from colorbatch.files.imaging import read_rgb

    picks = []
    for set_name, step in GALLERY.items():
        if set_name in SETS:
            picks += sorted(p for p in truth_folder(set_name).rglob("*") if p.is_file())[::step]
    colorizers = [Colorizer(model, device="cpu", vividness=v) for v in (default, 1.0)]
    height, gap, top, rows = GALLERY_HEIGHT, 6, 24, []
    for path in picks:
        truth = read_rgb(path)
        gray = Image.fromarray(truth).convert("L")
        tiles = [gray.convert("RGB"), *(c.colorize(gray).convert("RGB") for c in colorizers), Image.fromarray(truth)]
        width = round(truth.shape[1] * height / truth.shape[0])
        rows.append([t.resize((width, height), Image.Resampling.LANCZOS) for t in tiles])
    cell = max(tile.width for row in rows for tile in row)
    sheet = Image.new("RGB", (gap + 4 * (cell + gap), top + len(rows) * (height + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, label in enumerate(("gray input", f"vividness {default:g} (default)", "vividness 1", "truth")):
        draw.text((gap + i * (cell + gap), 6), label, fill="black")
    for r, row in enumerate(rows):
        for i, tile in enumerate(row):
            sheet.paste(tile, (gap + i * (cell + gap) + (cell - tile.width) // 2, top + r * (height + gap)))
    sheet.save(RESULTS / "gallery.png", optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="ONNX model with a vividness control (default: the bundled model)")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=PATH",
                        help="another model scored at its only setting (repeatable)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the vividness sweep and its plot")
    parser.add_argument("--no-gallery", action="store_true")
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep (and the rule's choice)")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), help="a subset of the sets")
    parser.add_argument("--results-name", default="quality", help="name of the table in benchmarks/results/")
    args = parser.parse_args()
    available_sets()
    if args.sets:
        for name in list(SETS):
            if name not in args.sets:
                del SETS[name]
    model = args.model or str(bundled_model_path())
    default = ModelSession(Path(model), device="cpu").vividness
    if default is None:
        raise SystemExit(f"{model}: no vividness control (not a chroma-bins model)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    extra = {"model": model, "default_vividness": default}
    if not args.no_sweep:
        sweep_rows, rule_choice, rule_set = sweep(model)
        extra.update(rule_choice=rule_choice, rule_set=rule_set)
        write_results("quality_sweep", sweep_rows, extra)
        plot_sweep(sweep_rows, default)
        print(f"rule (most colourful within {RULE_DB} dB of the best PSNR on {rule_set}) picks "
              f"vividness {rule_choice}; the model's default is {default}")
    if args.sweep_only:
        return
    rows = main_table(model, default, [c.split("=", 1) for c in args.compare])
    write_results(args.results_name, rows, extra)
    if not args.no_gallery:
        gallery(model, default)
    print(json.dumps({r["set"] + " " + r["vividness"]: r["bar"] for r in rows if r["bar"]}, indent=1))
    print(json.dumps({r["set"] + " " + r["vividness"]: r["bar_issue26"] for r in rows if r.get("bar_issue26")},
                     indent=1))


if __name__ == "__main__":
    main()
