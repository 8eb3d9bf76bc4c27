"""Draw the CIFAR-10-C corruptions at severities 1-5 on a 32x32 photograph.

The photograph is a crop of scikit-learn's bundled sample images (no download), shrunk to
32x32 like a CIFAR-10 image. Frost needs frost pictures, which kerasbio does not ship: pass
`--frost-dir` (or set KERASBIO_FROST_DIR), otherwise its row is left out.
Usage: python examples/cifar10c_corruptions.py [--out DIR] [--frost-dir DIR] [--all]
"""

import argparse
import os
import pathlib

import numpy as np
from sklearn.datasets import load_sample_image

from kerasbio.data import fit_images
from kerasbio.data.plots import corruption_grid

# The seven corruptions that need ImageMagick, OpenCV or pictures in Hendrycks' script.
LATER_SEVEN = ("frosted_glass_blur", "motion_blur", "snow", "frost", "fog", "spatter", "elastic")


def sample_photograph():
    """The flower of scikit-learn's sample images, its centre square shrunk to 32x32."""
    photograph = load_sample_image("flower.jpg") / 255.0
    height, width = photograph.shape[:2]
    left = (width - height) // 2
    return fit_images(photograph[:, left:left + height], (32, 32, 3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/cifar10c_corruptions", help="output directory")
    parser.add_argument("--frost-dir", default=None, help="directory of frost pictures")
    parser.add_argument("--all", action="store_true", help="all 19 corruptions, not only 7")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    has_frost = args.frost_dir is not None or os.environ.get("KERASBIO_FROST_DIR")
    names = None if args.all else [n for n in LATER_SEVEN if n != "frost" or has_frost]
    path = out / "corruptions.png"
    corruption_grid(np.asarray(sample_photograph()), names, path, frost_dir=args.frost_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
