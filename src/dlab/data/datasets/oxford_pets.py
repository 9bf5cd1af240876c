"""Oxford-IIIT Pets: 7,390 photos of cats and dogs with trimap masks (pet, background, border).

Sources:

- ``keras``: ``images.tar.gz`` and ``annotations.tar.gz`` downloaded and extracted
  with ``keras.utils.get_file(extract=True)`` (cached under ``~/.keras/datasets``,
  as the keras-io oxford_pets example does); ``images/*.jpg`` are paired with
  ``annotations/trimaps/*.png``.
- ``dir``: a local copy in the same layout, or any ``images/`` + ``masks/`` tree
  (``data.mask_offset``, ``data.num_classes``), see :mod:`dlab.data.modalities.segmentation`.
- ``synthetic``: shapes on noisy backgrounds with trimap-like masks, from the seed.

The data has no test split of its own: as in Deep Learning with Python, the last
``data.validation`` (1,000) images of a fixed shuffle are held out. Images and masks
are resized to ``data.image_size`` (default 200x200) while streaming.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dlab.data import require_path, require_source
from dlab.data.formats.cache import download
from dlab.data.modalities.segmentation import (
    Layout,
    find_layout,
    load_segmentation_folder,
    synthetic_segmentation,
    trimaps_layout,
)
from dlab.data.registry import dataset
from dlab.errors import DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig
    from dlab.data import StreamDataset

NAME = "oxford_pets"
BASE_URL = "https://thor.robots.ox.ac.uk/datasets/pets"
DOWNLOADS = (
    (f"{BASE_URL}/images.tar.gz", "images.tar.gz"),
    (f"{BASE_URL}/annotations.tar.gz", "annotations.tar.gz"),
)
CLASS_NAMES = ["pet", "background", "border"]  # trimap values 1, 2, 3 minus one
IMAGE_SIZE = 200
SIZE = 7_390
LOCAL_COPY = (
    "extract both archives into one folder (images/ and annotations/) and run with "
    "--set data.source=dir --set data.path=/path/to/that/folder"
)


@dataset("oxford_pets")
def load_data(config: DataConfig, seed: int) -> StreamDataset:
    """Load the pets (or a tree in their layout) from ``config.source`` as tf.data streams.

    Raises:
        ConfigError: a validation setting that cannot hold out images.
        DataError: a failed download, a missing folder, an unreadable file or a bad mask.
    """
    require_source(
        config,
        ("keras", "dir", "synthetic"),
        "images and masks from the Oxford server, a local folder, or the synthetic twin",
    )
    if config.source == "synthetic":
        return synthetic_segmentation(NAME, config, seed, SIZE, IMAGE_SIZE, CLASS_NAMES)
    if config.source == "dir":
        root = require_path(config, "a folder with images/ and annotations/trimaps/ (or masks/)", kind="dir")
        layout, location = find_layout(root), str(root)
    else:
        layout, location = download(NAME, DOWNLOADS, LOCAL_COPY, _fetch), BASE_URL
    return load_segmentation_folder(NAME, layout, config, seed, location, IMAGE_SIZE, class_names=CLASS_NAMES)


def _fetch() -> Layout:
    """Download and extract both archives (cached by Keras); return where images and trimaps are.

    ``get_file(extract=True)`` returns the folder each archive was extracted into:
    ``images_extracted/images/`` and ``annotations_extracted/annotations/trimaps/``.

    Raises:
        DataError: an archive that extracted without the expected folder.
    """
    import keras

    folders = [Path(keras.utils.get_file(file_name, url, extract=True)) for url, file_name in DOWNLOADS]
    layout = trimaps_layout(folders[0] / "images", folders[1] / "annotations" / "trimaps")
    for folder, (url, file_name) in ((layout.images, DOWNLOADS[0]), (layout.masks, DOWNLOADS[1])):
        if not folder.is_dir():
            raise DataError(
                f"{url} extracted without the folder {folder}. Delete the cached "
                f"{file_name} and its extracted folder from the Keras cache and run "
                "again to download it anew."
            )
    return layout
