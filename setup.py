import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (HERE / "kerasbio" / "__init__.py").read_text(),
                    re.MULTILINE).group(1)

setup(
    name="kerasbio",
    version=VERSION,
    description="Biologically inspired stochastic layers, losses, callbacks and studies for Keras 3",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["kerasbio", "kerasbio.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.10",
        "tensorflow-probability>=0.25",
        "tf_keras>=2.21,<2.22",  # TFP 0.25 imports it
        "tensorflow-datasets>=4.9.4",
        "importlib_resources",  # TFDS 4.9 fails at import without it
        "keras-tuner>=1.4.7",
        "tensorboard>=2.21",  # keras-tuner trials fail without it on TF 2.21
        "numpy>=1.26",
        "scipy>=1.11",
        "scikit-learn>=1.3",
        "matplotlib>=3.7",
        "pandas>=2.0",
        "tqdm>=4.60",
        "tensorflow-hub>=0.16",  # TF-Hub-style reuse of exported SavedModels (tested)
    ],
    extras_require={
        "test": ["pytest>=7.4", "pytest-timeout>=2.2", "statsmodels>=0.14", "scikit-image>=0.21", "rsatoolbox>=0.3"],
        "rsa": ["rsatoolbox>=0.3"],
    },
    entry_points={"console_scripts": ["kerasbio=kerasbio.cli:main"]},
)
