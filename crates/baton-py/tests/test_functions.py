"""Python functions as stages, pipelines built in Python, files with a sink
run from Python, and the PyTorch adapter."""

import gc
import os
import textwrap
import threading
import warnings

import numpy as np
import pytest

import baton

from test_loader import TEST_IMAGES, TEST_LABELS, settle, threads, write


def test_a_function_maps_filters_and_splits_items_in_source_order():
    def triple(item):
        n = item["value"]
        if n % 3 == 0:
            return None  # dropped
        if n % 3 == 1:
            return {"value": n, "square": n * n}
        return [{"value": n, "half": n / 2}, {"value": -n}]

    got = list(baton.range(30).map(triple))
    expected = []
    for n in range(30):
        if n % 3 == 1:
            expected.append({"value": n, "square": n * n})
        elif n % 3 == 2:
            expected += [{"value": n, "half": n / 2}, {"value": -n}]
    assert got == expected


def test_a_function_runs_on_batons_threads_with_the_gil_and_many_replicas_keep_order():
    seen = set()

    def where(item):
        seen.add(threading.current_thread().name)
        return {"value": item["value"], "twice": item["value"] * 2}

    got = list(baton.range(2000).map(where, mode="parallel", replicas=2))
    assert [g["value"] for g in got] == list(range(2000))
    assert all(g["twice"] == 2 * g["value"] for g in got)
    assert threading.main_thread().name not in seen


def test_numpy_payloads_go_through_a_function_and_come_back_as_payloads(tmp_path):
    if not os.path.exists(TEST_IMAGES):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")

    def erase(item):
        tensor = item["tensor"]
        assert tensor.shape == (1, 28, 28) and tensor.dtype == np.float32
        tensor[:, :4, :4] = -1.0
        item["erased"] = np.int64(16)  # a NumPy scalar is a number
        return item

    loader = (
        baton.idx(images=TEST_IMAGES, labels=TEST_LABELS)
        .take(300)
        .to_tensor()
        .map(erase, mode="parallel")
        .batch(100, stack=True)
    )
    batches = list(loader)
    assert [b["tensor"].shape for b in batches] == [(100, 1, 28, 28)] * 3
    assert all((b["tensor"][:, :, :4, :4] == -1.0).all() for b in batches)
    assert all(b["erased"].tolist() == [16] * 100 for b in batches)

    def as_image(item):
        pixels = (item["tensor"][0] * 255).astype(np.uint8)
        return {"label": item["label"], "image": pixels}

    images = list(baton.idx(images=TEST_IMAGES, labels=TEST_LABELS).take(3).to_tensor().map(as_image))
    assert [i["image"].shape for i in images] == [(28, 28)] * 3
    assert images[0]["image"].dtype == np.uint8


def test_what_is_not_an_item_fails_the_item_saying_what_it_was():
    loader = baton.range(5).map(lambda item: 42)
    with pytest.raises(baton.StageError) as raised:
        list(loader)
    assert "returned what is not items" in str(raised.value)
    assert "a int" in str(raised.value) and "return a dict" in str(raised.value)

    for answer, words in [
        ({"x": object()}, "`x`: a object cannot be a field"),
        ({"x": float("nan")}, "JSON has no NaN"),
        ({"raw": b"x"}, "`raw`: bytes cannot be a field: an item's bytes go under the key `bytes`"),
        ({"tensor": np.zeros(2), "image": np.zeros((2, 2))}, "an item holds one payload"),
        ({"image": np.zeros((2, 2, 2))}, "`image` has the shape [2, 2, 2]"),
        ([{"a": 1}, 3], "[1] is a int, not a dict"),
    ]:
        with pytest.raises(baton.StageError) as raised:
            list(baton.range(1).map(lambda item, answer=answer: answer))
        assert words in str(raised.value), str(raised.value)


def test_a_function_that_raises_fails_its_stage_and_item_with_its_exception_as_cause():
    def fragile(item):
        if item["value"] == 7:
            raise ValueError("seven is bad luck")
        return item

    loader = baton.range(100).map(fragile)
    seen = []
    with pytest.raises(baton.StageError) as raised:
        for item in loader:
            seen.append(item["value"])
    error = raised.value
    assert error.stage == "fragile" and error.item == 7
    assert "ValueError: seven is bad luck" in str(error)
    assert "test_functions.py, line" in str(error)
    assert isinstance(error.__cause__, ValueError)
    assert str(error.__cause__) == "seven is bad luck"
    assert seen == list(range(7))


def test_a_function_that_raises_under_skip_loses_only_its_item():
    def fragile(item):
        if item["value"] % 10 == 3:
            raise ValueError("no threes")
        return item

    got = [i["value"] for i in baton.range(50).map(fragile, on_error="skip")]
    assert got == [n for n in range(50) if n % 10 != 3]


def test_a_pipeline_file_names_a_function_of_a_module_beside_it(tmp_path):
    # A module name of its own: Python imports a module once per process.
    (tmp_path / "tidying.py").write_text(
        textwrap.dedent(
            """
            def clean(order):
                if order["customer"].startswith("test"):
                    return None
                order["customer"] = order["customer"].strip().title()
                return order
            """
        )
    )
    (tmp_path / "orders.csv").write_text("customer,qty\n  ana lopez ,2\ntest-user,1\nben ,3\n")
    path = write(
        tmp_path,
        """
        [[stage]]
        op = "csv"
        path = "orders.csv"

        [[stage]]
        op = "python"
        function = "tidying:clean"
        """,
    )
    got = list(baton.Pipeline.from_file(path))
    assert got == [{"customer": "Ana Lopez", "qty": 2}, {"customer": "Ben", "qty": 3}]


def test_a_function_that_cannot_be_found_is_a_located_file_error(tmp_path):
    for function, words in [
        ("no_such_module:f", "cannot import `no_such_module`"),
        ("os:no_such_name", "`os` has no `no_such_name`"),
        ("os:sep", "`os:sep` is a str, not a function"),
        ("clean", "write \"module:name\""),
    ]:
        path = write(
            tmp_path,
            f"""
            [[stage]]
            op = "range"
            end = 3

            [[stage]]
            op = "python"
            function = "{function}"
            """,
        )
        with pytest.raises(baton.PipelineFileError) as raised:
            baton.Pipeline.from_file(path)
        message = str(raised.value)
        assert words in message and "p.toml" in message and "function" in message, message


def test_a_file_with_a_sink_runs_from_python_to_its_end_with_its_summary(tmp_path):
    (tmp_path / "tag.py").write_text("def tag(item):\n    item['tagged'] = item['value'] * 10\n    return item\n")
    path = write(
        tmp_path,
        """
        [[stage]]
        op = "range"
        end = 1000

        [[stage]]
        op = "python"
        function = "tag:tag"

        [[stage]]
        op = "jsonl"
        path = "out.jsonl"
        """,
    )
    summary = baton.run(path, report=tmp_path / "run.html")
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) == 1000 and lines[999] == '{"tagged":9990,"value":999}'
    assert summary["source"]["items"] == 1000
    assert [s["name"] for s in summary["stages"]][:1] == ["python"]
    assert "<html" in (tmp_path / "run.html").read_text()[:500].lower()


def values(batches):
    return [[item["value"] for item in batch["items"]] for batch in batches]


def test_the_builder_checks_like_a_file_and_writes_one(tmp_path):
    with pytest.raises(ValueError, match="unknown op `cropp`"):
        baton.range(3).map("cropp")
    with pytest.raises(AttributeError, match="no built-in stage"):
        baton.range(3).cropp(width=3)
    with pytest.raises(baton.PipelineFileError) as raised:
        list(baton.range(3).batch(2, sise=3))
    assert "sise" in str(raised.value) and "pipeline.toml" in str(raised.value)

    builder = baton.range(10, step=2).take(4).batch(2).named("evens")
    text = builder.to_toml()
    assert text.startswith('[pipeline]\nname = "evens"\n')
    assert '[[stage]]\nop = "batch"\nsize = 2\n' in text
    assert len(builder) == 2
    assert values(builder) == [[0, 2], [4, 6]]
    # The text is a pipeline file: the same items from the file.
    path = write(tmp_path, text, "evens.toml")
    assert values(baton.Pipeline.from_file(path)) == [[0, 2], [4, 6]]


def test_a_run_s_warnings_are_python_warnings(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    path = write(
        tmp_path,
        """
        [[stage]]
        op = "csv"
        path = "a.csv"

        [[stage]]
        op = "filter"
        expr = "y > 0"

        [[stage]]
        op = "jsonl"
        path = "out.jsonl"
        """,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        baton.run(path)
    said = [str(w.message) for w in caught if issubclass(w.category, baton.Warning)]
    assert len(said) == 1 and "`y`" in said[0] and "stage `filter`" in said[0], said


def test_breaking_out_of_a_loop_with_function_stages_leaves_no_thread():
    baseline = threads()
    slow = baton.range(10**9).map(lambda item: item, mode="parallel", replicas=2)
    for i, item in enumerate(slow):
        if i == 100:
            break
    del item
    assert settle(baseline) <= baseline


try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(
    torch is None, reason="torch is not installed: the PyTorch adapter's tests need it"
)


@needs_torch
def test_the_torch_dataset_gives_tensors_sharing_batons_memory_and_counts_epochs():
    import baton.torch

    if not os.path.exists(TEST_IMAGES):
        pytest.skip("Fashion-MNIST is not installed")
    builder = (
        baton.idx(images=TEST_IMAGES, labels=TEST_LABELS)
        .take(512)
        .flip(horizontal=0.5)
        .to_tensor()
        .batch(128, stack=True)
    )
    dataset = baton.torch.IterableDataset(builder)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=0)
    assert len(loader) == 4
    zero = list(loader)
    assert all(isinstance(b["tensor"], torch.Tensor) and b["tensor"].dtype == torch.float32 for b in zero)
    assert zero[0]["tensor"].shape == (128, 1, 28, 28) and zero[0]["label"].dtype == torch.int64
    one = list(loader)
    assert not all(torch.equal(a["tensor"], b["tensor"]) for a, b in zip(zero, one))
    dataset.set_epoch(0)
    assert all(torch.equal(a["tensor"], b["tensor"]) for a, b in zip(zero, list(loader)))


@needs_torch
def test_the_torch_dataset_refuses_to_run_in_each_of_several_workers():
    import baton.torch

    dataset = baton.torch.IterableDataset(baton.range(10))
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
    with pytest.raises(RuntimeError, match="use num_workers=0"):
        list(loader)


def test_the_worked_example_of_python_runs_from_python(tmp_path):
    here = os.path.dirname(__file__)
    example = os.path.join(here, "../../baton-ops/src/registry/examples/stage/python.toml")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text("customer,qty\n ana ,2\ntest-bot,1\nben,3\n")
    (tmp_path / "cleaning.py").write_text(
        "def clean(order):\n"
        "    if order['customer'].startswith('test'):\n"
        "        return None\n"
        "    order['customer'] = order['customer'].strip()\n"
        "    return order\n"
    )
    path = tmp_path / "orders.toml"
    path.write_text(open(example).read())
    (tmp_path / "out").mkdir()
    summary = baton.run(path)
    lines = (tmp_path / "out" / "orders.jsonl").read_text().splitlines()
    assert lines == ['{"customer":"ana","qty":2}', '{"customer":"ben","qty":3}']
    assert summary["pipeline"] == "orders"
