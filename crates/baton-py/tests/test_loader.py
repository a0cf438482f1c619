"""baton from Python, as a training loop meets it: real pipeline files,
NumPy arrays without copies, located errors, and runs that stop cleanly.

Run with `python3 -m pytest crates/baton-py/tests` after
`pip install ./crates/baton-py` (scripts/test.sh does both).
"""

import gc
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import baton

FASHION = "/usr/share/datasets/fashion-mnist"
TEST_IMAGES = f"{FASHION}/t10k-images-idx3-ubyte.gz"
TEST_LABELS = f"{FASHION}/t10k-labels-idx1-ubyte.gz"

TRAIN_TOML = f"""
# Fashion-MNIST's test split, augmented as a small-image classifier's input
# is, in stacked batches of 128: what a training loop iterates.
[[stage]]
name = "read"
op = "idx"
images = "{TEST_IMAGES}"
labels = "{TEST_LABELS}"

[[stage]]
name = "shift"
op = "crop"
width = 28
height = 28
padding = 4
position = "random"
seed = 1

[[stage]]
name = "mirror"
op = "flip"
horizontal = 0.5
seed = 1

[[stage]]
name = "normalise"
op = "normalize"
mean = [0.2860]
std = [0.3530]

[[stage]]
name = "batch"
op = "batch"
size = 128
stack = true
"""


def write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def threads():
    """The threads of this process now."""
    return len(os.listdir("/proc/self/task"))


def settle(baseline, timeout=10.0):
    """Waits until the process is back to `baseline` threads; returns the count."""
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()
        now = threads()
        if now <= baseline or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.fixture
def train(tmp_path):
    if not os.path.exists(TEST_IMAGES):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    return write(tmp_path, TRAIN_TOML, "train.toml")


def test_a_training_pipeline_gives_stacked_float32_batches_and_int64_labels(train):
    loader = baton.Pipeline.from_file(train)
    assert loader.stages == ["read", "shift", "mirror", "normalise", "batch"]
    assert len(loader) == 79  # 10,000 images in batches of 128
    batches = list(loader)
    assert len(batches) == 79
    first, last = batches[0], batches[-1]
    assert first["tensor"].shape == (128, 1, 28, 28)
    assert first["tensor"].dtype == np.float32
    assert first["label"].shape == (128,) and first["label"].dtype == np.int64
    assert last["tensor"].shape == (10000 - 78 * 128, 1, 28, 28)
    labels = np.concatenate([b["label"] for b in batches])
    assert labels.shape == (10000,)
    # Every class of Fashion-MNIST's test split has 1,000 images.
    assert np.bincount(labels).tolist() == [1000] * 10
    # Normalised: about zero mean and unit deviation over the split.
    pixels = np.concatenate([b["tensor"].ravel() for b in batches])
    assert abs(pixels.mean()) < 0.15 and 0.8 < pixels.std() < 1.2


def test_the_labels_are_the_files_own_in_source_order(train):
    import gzip

    with gzip.open(TEST_LABELS) as f:
        expected = np.frombuffer(f.read()[8:], dtype=np.uint8).astype(np.int64)
    got = np.concatenate([b["label"] for b in baton.Pipeline.from_file(train)])
    assert np.array_equal(got, expected)


def test_tensors_are_numpy_views_of_batons_buffer_not_copies(train):
    batch = next(iter(baton.Pipeline.from_file(train)))
    tensor = batch["tensor"]
    # A copy owns its data; this array is a view of the buffer baton filled,
    # kept alive by the object that holds it.
    assert not tensor.flags["OWNDATA"]
    owner = tensor.base
    while isinstance(owner, np.ndarray):
        owner = owner.base
    # The buffer's owner is the Rust Vec the tensor was filled in.
    assert type(owner).__name__ == "PySliceContainer"
    assert tensor.flags["C_CONTIGUOUS"] and tensor.flags["WRITEABLE"]
    tensor[0, 0, 0, 0] = 42.0  # the loop may use it in place
    assert tensor[0, 0, 0, 0] == 42.0


def test_each_for_is_an_epoch_that_draws_anew_and_the_same_epoch_draws_the_same(train):
    loader = baton.Pipeline.from_file(train)
    assert loader.epoch == 0
    zero = np.concatenate([b["tensor"] for b in loader])
    assert loader.epoch == 1
    one = np.concatenate([b["tensor"] for b in loader])
    assert zero.shape == one.shape == (10000, 1, 28, 28)
    # Epoch 1's crops and flips are drawn with the seeds + 1: not epoch 0's.
    assert not np.array_equal(zero, one)
    loader.set_epoch(0)
    assert np.array_equal(zero, np.concatenate([b["tensor"] for b in loader]))
    loader.set_epoch(1)
    assert np.array_equal(one, np.concatenate([b["tensor"] for b in loader]))
    # The labels (no seeded stage reorders them) are the same every epoch.
    again = baton.Pipeline.from_file(train)
    assert np.array_equal(
        np.concatenate([b["label"] for b in again]), np.concatenate([b["label"] for b in again])
    )


EXAMPLE = os.path.join(os.path.dirname(__file__), "../../../examples/python/fashion_mnist.toml")


def test_the_readmes_example_file_iterates_with_its_inputs_overridden(train):
    loader = baton.Pipeline.from_file(
        EXAMPLE,
        overrides={"read.images": TEST_IMAGES, "read.labels": TEST_LABELS, "batch.size": 2500},
    )
    assert loader.name == "fashion-mnist: train loader"
    assert len(loader) == 4
    shapes = [(b["tensor"].shape, b["label"].shape) for b in loader]
    assert shapes == [((2500, 1, 28, 28), (2500,))] * 4


def test_overrides_set_any_key_of_any_stage(train):
    loader = baton.Pipeline.from_file(train, overrides={"batch.size": 1000, "mirror.horizontal": 0.0})
    assert len(loader) == 10
    sizes = [b["tensor"].shape[0] for b in loader]
    assert sizes == [1000] * 10


def test_a_bad_override_or_file_raises_with_where_it_is(tmp_path, train):
    with pytest.raises(baton.PipelineFileError) as raised:
        baton.Pipeline.from_file(train, overrides={"batch.sise": 64})
    assert "sise" in str(raised.value)
    with pytest.raises(baton.PipelineFileError) as raised:
        baton.Pipeline.from_file(train, overrides={"bacth.size": 64})
    assert "bacth" in str(raised.value) and "batch" in str(raised.value)

    bad = write(tmp_path, """
        [[stage]]
        op = "range"
        end = "ten"
        """)
    with pytest.raises(baton.PipelineFileError) as raised:
        baton.Pipeline.from_file(bad)
    message = str(raised.value)
    assert "p.toml:4" in message and "end" in message, message
    # Every baton error is a baton.Error.
    assert issubclass(baton.PipelineFileError, baton.Error)
    assert issubclass(baton.StageError, baton.Error)


def test_a_file_that_ends_in_a_sink_is_told_the_loop_is_its_sink(tmp_path):
    path = write(tmp_path, """
        [[stage]]
        op = "range"
        end = 3

        [[stage]]
        op = "discard"
        """)
    with pytest.raises(baton.PipelineFileError, match="the loop that iterates it is its sink"):
        baton.Pipeline.from_file(path)


def test_a_missing_input_is_found_before_the_loop_starts(tmp_path):
    path = write(tmp_path, """
        [[stage]]
        op = "lines"
        path = "logs/*.log"
        """)
    with pytest.raises(baton.PipelineFileError, match=r"no file matches `logs/\*\.log`"):
        baton.Pipeline.from_file(path)


def test_a_failing_stage_raises_in_the_loop_naming_stage_and_item(tmp_path):
    (tmp_path / "events.jsonl").write_text('{"n": 1}\n{"n": 2}\nnot json\n{"n": 4}\n')
    path = write(tmp_path, """
        [[stage]]
        op = "lines"
        path = "events.jsonl"

        [[stage]]
        name = "parse"
        op = "json_parse"
        """)
    seen = []
    with pytest.raises(baton.StageError) as raised:
        for item in baton.Pipeline.from_file(path):
            seen.append(item["n"])
    # The third line, item 2 counted from 0 at the source.
    assert (raised.value.stage, raised.value.item) == ("parse", 2)
    assert "not valid JSON" in str(raised.value), str(raised.value)
    # Every line before the bad one reached the loop, in order, and
    # nothing after it.
    assert seen == [1, 2], seen


def test_records_of_a_csv_come_one_dict_each(tmp_path):
    (tmp_path / "orders.csv").write_text("id,amount,city\n1,9.5,Lyon\n2,12.25,Oslo\n3,7.0,Lima\n")
    path = write(tmp_path, """
        [[stage]]
        op = "csv"
        path = "orders.csv"

        [[stage]]
        op = "select"
        fields = ["id", "amount"]
        """)
    rows = list(baton.Pipeline.from_file(path))
    assert rows == [{"id": 1, "amount": 9.5}, {"id": 2, "amount": 12.25}, {"id": 3, "amount": 7.0}]


def test_len_is_a_type_error_when_a_stage_may_drop_items(tmp_path):
    path = write(tmp_path, """
        [[stage]]
        op = "range"
        end = 10

        [[stage]]
        op = "filter"
        expr = "value % 2 == 0"
        """)
    loader = baton.Pipeline.from_file(path)
    with pytest.raises(TypeError):
        len(loader)
    assert [item["value"] for item in loader] == [0, 2, 4, 6, 8]


ENDLESS = """
    [[stage]]
    op = "range"
    end = 1000000000

    [[stage]]
    op = "delay"
    ms = 1
    """


def test_an_early_break_stops_the_run_and_leaves_no_thread(tmp_path):
    path = write(tmp_path, ENDLESS)
    baseline = threads()
    loader = baton.Pipeline.from_file(path)
    for i, item in enumerate(loader):
        if i == 5:
            break
    assert item["value"] == 5
    del item
    assert settle(baseline) <= baseline


def test_an_exception_in_the_loop_stops_the_run(tmp_path):
    path = write(tmp_path, ENDLESS)
    baseline = threads()

    def train():
        for item in baton.Pipeline.from_file(path):
            if item["value"] == 3:
                raise RuntimeError("the model diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        train()
    assert settle(baseline) <= baseline


def test_leaving_a_with_block_stops_its_runs(tmp_path):
    path = write(tmp_path, ENDLESS)
    baseline = threads()
    with baton.Pipeline.from_file(path) as loader:
        run = iter(loader)
        assert next(run)["value"] == 0
        assert threads() > baseline
    assert list(run) == []  # stopped: the loop ends
    assert run.finished
    del run
    assert settle(baseline) <= baseline


def test_stats_while_running_and_the_report_once_ended(tmp_path, train):
    loader = baton.Pipeline.from_file(train, trace=True)
    run = iter(loader)
    next(run)
    live = run.stats()
    # The last, `output`, is where the loop takes the items: its waiting is
    # the trainer's time, its blocking the pipeline waiting for the trainer.
    assert [s["name"] for s in live["stages"]] == ["shift", "mirror", "normalise", "batch", "output"]
    assert live["source"]["name"] == "read" and live["source"]["items"] >= 128
    for _ in run:
        pass
    assert run.finished
    summary = run.stats()
    assert summary["source"]["items"] == 10000
    report = tmp_path / "run.html"
    run.report(report)
    html = report.read_text()
    assert "<svg" in html and "normalise" in html


def test_memory_stays_flat_over_many_epochs(train):
    loader = baton.Pipeline.from_file(train)
    for _ in range(3):
        for _ in loader:
            pass
    before = rss_mb()
    for _ in range(10):
        for batch in loader:
            pass
    grown = rss_mb() - before
    assert grown < 40, f"RSS grew by {grown:.0f} MB over 10 epochs"


def test_ctrl_c_typed_in_a_terminal_stops_the_loop_cleanly(tmp_path):
    path = write(tmp_path, ENDLESS)
    script = tmp_path / "loop.py"
    script.write_text(textwrap.dedent(f"""
        import baton, sys
        try:
            for item in baton.Pipeline.from_file({str(path)!r}):
                if item["value"] == 20:
                    print("running", flush=True)
        except KeyboardInterrupt:
            print("interrupted cleanly", flush=True)
            sys.exit(130)
        """))
    pid, fd = pty.fork()
    if pid == 0:
        # As a shell in a terminal starts a program: Ctrl-C not ignored
        # (a CI job started in the background inherits SIGINT ignored, and
        # Python then never raises KeyboardInterrupt).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execv(sys.executable, [sys.executable, str(script)])
    output = b""
    deadline = time.monotonic() + 30
    try:
        while b"running" not in output and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                output += os.read(fd, 1024)
        assert b"running" in output, output
        os.write(fd, b"\x03")  # Ctrl-C, typed into the terminal
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    chunk = os.read(fd, 1024)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            finished, status = os.waitpid(pid, os.WNOHANG)
            if finished:
                break
        else:
            raise AssertionError(f"the loop did not stop: {output!r}")
        if not finished:
            _, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    assert b"interrupted cleanly" in output, output
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130


def test_auto_replicas_are_tuned_and_the_stats_say_why():
    loader = baton.Pipeline.from_text(
        textwrap.dedent(
            """
            [[stage]]
            op = "range"
            end = 2000

            [[stage]]
            name = "fetch"
            op = "delay"
            ms = 2
            replicas = "auto"
            """
        ),
        threads=2,
    )
    run = iter(loader)
    assert [item["value"] for item in run] == list(range(2000))
    fetch = run.stats()["stages"][0]
    assert fetch["name"] == "fetch"
    # 2 ms waits hidden behind many replicas, and the reason given.
    assert fetch["replicas"] > 8, fetch
    assert fetch["tuning"].startswith(f"{fetch['replicas']} replicas"), fetch


def test_the_cpu_budget_leaves_the_training_loop_its_cores():
    text = textwrap.dedent(
        """
        [[stage]]
        op = "range"
        end = 1000

        [[stage]]
        name = "fetch"
        op = "delay"
        ms = 1
        replicas = "auto"
        """
    )
    loader = baton.Pipeline.from_text(text, threads=2, cpu_budget=1)
    run = iter(loader)
    assert [item["value"] for item in run] == list(range(1000))
    fetch = run.stats()["stages"][0]
    assert "what 1 core can compute" in fetch["tuning"], fetch
    # The file's key, when the call sets none.
    budgeted = "[pipeline]\ncpu_budget = 1\n" + text
    run = iter(baton.Pipeline.from_text(budgeted, threads=2))
    assert len(list(run)) == 1000
    assert "what 1 core can compute" in run.stats()["stages"][0]["tuning"]
    with pytest.raises(ValueError, match="cpu_budget must be at least 1 core"):
        baton.Pipeline.from_text(text, cpu_budget=0)


def test_the_memory_budget_holds_the_loader_back_and_bad_sizes_are_refused():
    text = textwrap.dedent(
        """
        [[stage]]
        op = "range"
        end = 100000
        """
    )
    # Below what the process holds: past the guard's first look (10 ms)
    # the run goes on with few items in flight, loses none, and its stats
    # say why.
    run = iter(baton.Pipeline.from_text(text, threads=2, memory_budget="1 MB"))
    assert [item["value"] for item in run] == list(range(100000))
    memory = run.stats()["memory"]
    assert memory["budget_bytes"] == 1_000_000, memory
    assert "memory budget" in memory["held_back"], memory
    # Bytes as an int, the file's key, and "off".
    run = iter(baton.Pipeline.from_text(text, memory_budget=1 << 40))
    assert len(list(run)) == 100000
    assert run.stats()["memory"]["budget_bytes"] == 1 << 40
    run = iter(baton.Pipeline.from_text('[pipeline]\nmemory_budget = "2 GiB"\n' + text))
    assert len(list(run)) == 100000
    assert run.stats()["memory"]["budget_bytes"] == 2 << 30
    run = iter(baton.Pipeline.from_text(text, memory_budget="off"))
    assert len(list(run)) == 100000
    assert run.stats()["memory"]["budget_bytes"] is None
    with pytest.raises(ValueError, match='"4 GiB"'):
        baton.Pipeline.from_text(text, memory_budget="lots")
    with pytest.raises(ValueError):
        baton.Pipeline.from_text(text, memory_budget=[1])


def test_the_stats_say_which_stage_runs_fused_into_which():
    text = textwrap.dedent(
        """
        [[stage]]
        op = "range"
        end = 1000

        [[stage]]
        op = "rename"
        fields = { value = "n" }

        [[stage]]
        op = "filter"
        expr = "n % 2 == 0"
        {fuse}
        """
    )
    run = iter(baton.Pipeline.from_text(text.replace("{fuse}", ""), threads=2))
    assert [item["n"] for item in run] == list(range(0, 1000, 2))
    stages = {s["name"]: s for s in run.stats()["stages"]}
    assert stages["filter"]["fused_into"] == "rename", stages
    assert stages["rename"].get("fused_into") is None, stages
    assert (stages["filter"]["items_in"], stages["filter"]["items_out"]) == (1000, 500)
    run = iter(baton.Pipeline.from_text(text.replace("{fuse}", "fuse = false"), threads=2))
    assert len(list(run)) == 500
    assert all(s.get("fused_into") is None for s in run.stats()["stages"])
