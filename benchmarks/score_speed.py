"""Scoring 10,000 CIFAR-10 test pairs must take under a minute on this machine.

    python benchmarks/score_speed.py

The predictions are the BT.601 gray copies (the no-colour baseline), so the same run also
checks our metric code against the figures in ../shared/datasets/README.md.
"""

from __future__ import annotations

from common import cifar_test_colour, cifar_test_gray, timed, write_results

from colorbatch.work.score import score_trees

LIMIT_SECONDS = 60.0


def main() -> None:
    truth, gray = cifar_test_colour(), cifar_test_gray()
    result, seconds = timed(score_trees, gray, truth, jobs=-1)
    aggregate = result.summary.aggregate()
    row = {
        "pairs": aggregate["scored"],
        "seconds": seconds,
        "pairs_per_s": aggregate["scored"] / seconds,
        "limit_s": LIMIT_SECONDS,
        "pass": seconds < LIMIT_SECONDS,
        "psnr_mean": aggregate["psnr_mean"],
        "infinite": aggregate["infinite"],
        "psnr_pooled": aggregate["psnr_pooled"],
        "ssim_mean": aggregate["ssim_mean"],
    }
    write_results("score_speed", [row], {"aggregate": aggregate})


if __name__ == "__main__":
    main()
