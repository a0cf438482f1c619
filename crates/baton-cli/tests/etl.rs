//! The ETL stages on the real Fashion-MNIST files (Debian's package, which
//! the test command installs): the `idx` source, the image transforms and
//! the tensor sinks, checked against NumPy reading the same IDX files on
//! its own, and a seeded augmentation giving the same bytes twice.

mod common;

use std::path::Path;
use std::process::Command;

use common::{baton, examples, stderr, write};

const DATA: &str = "/usr/share/datasets/fashion-mnist";

/// The `idx` source stage of the real test set and its labels.
const TEST_SET: &str = "[[stage]]\nop = \"idx\"\n\
    images = \"/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\"\n\
    labels = \"/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz\"\n";

fn run(pipeline: &Path) {
    let output = baton()
        .args(["run", "--quiet"])
        .arg(pipeline)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// Runs `script` with python3 and NumPy; what it prints.
fn numpy(script: &str) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn the_test_set_normalised_into_npy_matches_numpy_reading_the_idx_files() {
    assert!(
        Path::new(DATA).join("t10k-images-idx3-ubyte.gz").exists(),
        "apt-get install dataset-fashion-mnist (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write(
        dir.path(),
        "p.toml",
        &format!(
            "{TEST_SET}\n\
             [[stage]]\nop = \"take\"\ncount = 2500\n\n\
             [[stage]]\nop = \"normalize\"\nmean = [0.2860]\nstd = [0.3530]\nreplicas = 2\n\n\
             [[stage]]\nop = \"npy\"\npath = \"out/test.npy\"\nfields = [\"label\", \"index\"]\n"
        ),
    );
    run(&pipeline);
    let out = dir.path().join("out");
    let checked = numpy(&format!(
        r#"
import gzip, numpy as np
raw = np.frombuffer(gzip.open("{DATA}/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
raw = raw.reshape(-1, 1, 28, 28)[:2500]
labels = np.frombuffer(gzip.open("{DATA}/t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)[:2500]
x = np.load("{out}/test.npy")
assert x.shape == (2500, 1, 28, 28) and x.dtype == np.float32, (x.shape, x.dtype)
want = (raw / 255.0 - 0.2860) / 0.3530
assert np.abs(x - want).max() < 1e-5, np.abs(x - want).max()
y = np.load("{out}/test.label.npy")
assert y.dtype == np.int64 and (y == labels).all()
assert (np.load("{out}/test.index.npy") == np.arange(2500)).all()
print("ok", round(float(x.mean()), 3))
"#,
        out = out.display()
    ));
    assert!(checked.starts_with("ok"), "{checked}");
}

#[test]
fn a_seeded_augmentation_writes_the_same_safetensors_twice_and_differs_by_seed() {
    let dir = tempfile::tempdir().unwrap();
    let file = |seed: u64, path: &str| {
        write(
            dir.path(),
            "p.toml",
            &format!(
                "{TEST_SET}\n\
             [[stage]]\nop = \"take\"\ncount = 1500\n\n\
                 [[stage]]\nop = \"crop\"\nwidth = 28\nheight = 28\npadding = 4\nposition = \"random\"\nseed = {seed}\nreplicas = 2\n\n\
                 [[stage]]\nop = \"flip\"\nseed = {seed}\nreplicas = 2\n\n\
                 [[stage]]\nop = \"normalize\"\nmean = [0.2860]\nstd = [0.3530]\n\n\
                 [[stage]]\nop = \"safetensors\"\npath = \"{path}\"\ntensor = \"images\"\nfields = [\"label\"]\n"
            ),
        )
    };
    run(&file(7, "a.safetensors"));
    run(&file(7, "b.safetensors"));
    run(&file(8, "c.safetensors"));
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert_eq!(
        read("a.safetensors"),
        read("b.safetensors"),
        "same seed, same bytes"
    );
    assert_ne!(
        read("a.safetensors"),
        read("c.safetensors"),
        "another seed, other crops"
    );
    let bytes = read("a.safetensors");
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.tensor("images").unwrap().shape(), [1500, 1, 28, 28]);
    assert_eq!(file.tensor("label").unwrap().shape(), [1500]);
}

#[test]
fn the_prepare_example_checks() {
    let example = examples().join("fashion_mnist/prepare.toml");
    let output = baton().arg("check").arg(&example).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn shards_written_by_python_webdataset_are_read_and_ours_are_read_by_it() {
    let dir = tempfile::tempdir().unwrap();
    // Python's webdataset writes three shards (its ShardWriter, PAX headers).
    let wrote = numpy(&format!(
        r#"
import webdataset as wds, numpy as np
with wds.ShardWriter("{dir}/py-%06d.tar", maxcount=3, verbose=0) as sink:
    for i in range(7):
        sink.write({{"__key__": "s%04d" % i, "cls": i % 10,
                    "npy": np.full((2, 2), i, dtype=np.float32), "json": {{"w": i / 2}}}})
print("ok")
"#,
        dir = dir.path().display()
    ));
    assert_eq!(wrote, "ok");
    let pipeline = write(
        dir.path(),
        "read.toml",
        "[[stage]]\nop = \"webdataset\"\npath = \"py-*.tar\"\nshards_at_once = 1\n\n\
         [[stage]]\nop = \"jsonl\"\npath = \"read.jsonl\"\n",
    );
    run(&pipeline);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("read.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 7);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["key"], format!("s{i:04}"));
        assert_eq!(row["cls"], i % 10);
        assert_eq!(row["w"], i as f64 / 2.0);
        assert_eq!(row["_payload"], "tensor[2, 2]");
    }

    // Ours, from the real test set: read back by Python's webdataset, and
    // by baton down to the pixels.
    let pipeline = write(
        dir.path(),
        "write.toml",
        &format!(
            "{TEST_SET}\n\
             [[stage]]\nop = \"take\"\ncount = 1000\n\n\
             [[stage]]\nop = \"webdataset\"\npath = \"ours/test-%04d.tar\"\nmax_items = 300\n\
             fields = {{ label = \"cls\" }}\njson = false\n"
        ),
    );
    run(&pipeline);
    let out = dir.path().join("ours");
    let checked = numpy(&format!(
        r#"
import gzip, glob, numpy as np, webdataset as wds
labels = np.frombuffer(gzip.open("{DATA}/t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)
shards = sorted(glob.glob("{out}/test-*.tar"))
assert len(shards) == 4, shards
seen = [(s["__key__"], int(s["cls"]), s["png"][:4]) for s in wds.WebDataset(shards, shardshuffle=False)]
assert [k for k, _, _ in seen] == ["%09d" % i for i in range(1000)], seen[:3]
assert [c for _, c, _ in seen] == list(labels[:1000])
assert all(p == b"\x89PNG" for _, _, p in seen)
print("ok")
"#,
        out = out.display()
    ));
    assert_eq!(checked, "ok");
    let pipeline = write(
        dir.path(),
        "back.toml",
        "[[stage]]\nop = \"webdataset\"\npath = \"ours/test-*.tar\"\n\n\
         [[stage]]\nop = \"image_decode\"\n\n\
         [[stage]]\nop = \"to_tensor\"\nscale = 1.0\n\n\
         [[stage]]\nop = \"npy\"\npath = \"back.npy\"\nfields = [\"cls\"]\n",
    );
    run(&pipeline);
    // Four shards read at once, their samples in turn: 0, 300, 600, 900, 1, ...
    let checked = numpy(&format!(
        r#"
import gzip, numpy as np
raw = np.frombuffer(gzip.open("{DATA}/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 1, 28, 28)
labels = np.frombuffer(gzip.open("{DATA}/t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)
order = []
shards = [list(range(s, min(s + 300, 1000))) for s in range(0, 1000, 300)]
while any(shards):
    for s in shards:
        if s: order.append(s.pop(0))
x = np.load("{dir}/back.npy")
assert x.shape == (1000, 1, 28, 28), x.shape
assert (x == raw[order]).all()
assert (np.load("{dir}/back.cls.npy") == labels[order]).all()
print("ok")
"#,
        dir = dir.path().display()
    ));
    assert_eq!(checked, "ok");
}

#[test]
fn a_cache_file_replays_the_epochs_and_serves_the_next_run_without_reading_the_source() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in.txt", "a\nb\nc\n");
    let pipeline = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"lines\"\npath = \"in.txt\"\n\n\
         [[stage]]\nop = \"repeat\"\nepochs = 2\ncache_file = \"cache/lines.bin\"\n\n\
         [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
    );
    let lines = || -> Vec<(String, u64)> {
        std::fs::read_to_string(dir.path().join("out.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["line"].as_str().unwrap().to_string(),
                    v["epoch"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let want: Vec<(String, u64)> = [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1)]
        .map(|(l, e)| (l.to_string(), e))
        .to_vec();
    run(&pipeline);
    assert_eq!(lines(), want);
    let cache = dir.path().join("cache/lines.bin");
    assert!(cache.exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("cache")).unwrap().count(),
        1
    );

    // The source changes; the complete cache is what the next run reads,
    // and the plan says so.
    write(dir.path(), "in.txt", "x\n");
    let plan = baton()
        .args(["run", "--dry-run"])
        .arg(&pipeline)
        .output()
        .unwrap();
    assert!(
        stderr(&plan).contains("the source is not read")
            || String::from_utf8_lossy(&plan.stdout).contains("the source is not read"),
        "{}{}",
        String::from_utf8_lossy(&plan.stdout),
        stderr(&plan)
    );
    run(&pipeline);
    assert_eq!(lines(), want);

    // Deleted, it is filled again from the source.
    std::fs::remove_file(&cache).unwrap();
    run(&pipeline);
    assert_eq!(lines(), [("x".to_string(), 0), ("x".to_string(), 1)]);

    // Someone else's file under the name: a located error, nothing read.
    std::fs::write(&cache, "not a cache file, though long enough for one").unwrap();
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&pipeline)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("lines.bin: no cache header"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn repeat_gives_each_epoch_a_new_order_and_new_crops_and_must_follow_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write(
        dir.path(),
        "p.toml",
        &format!(
            "{TEST_SET}\n\
             [[stage]]\nname = \"epochs\"\nop = \"repeat\"\nepochs = 3\nshuffle = true\nseed = 4\n\n\
             [[stage]]\nop = \"crop\"\nwidth = 28\nheight = 28\npadding = 4\nposition = \"random\"\nreplicas = 2\n\n\
             [[stage]]\nop = \"to_tensor\"\nscale = 1.0\n\n\
             [[stage]]\nop = \"npy\"\npath = \"e.npy\"\nfields = [\"epoch\", \"index\"]\n"
        ),
    );
    let output = baton().args(["run"]).arg(&pipeline).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("30000 items"),
        "{}",
        stderr(&output)
    );
    let checked = numpy(&format!(
        r#"
import gzip, numpy as np
raw = np.frombuffer(gzip.open("{DATA}/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 1, 28, 28)
x, epoch, index = (np.load("{dir}/e.npy"), np.load("{dir}/e.epoch.npy"), np.load("{dir}/e.index.npy"))
assert x.shape == (30000, 1, 28, 28)
assert (epoch == np.repeat([0, 1, 2], 10000)).all()
orders = [index[epoch == e] for e in range(3)]
assert all((np.sort(o) == np.arange(10000)).all() for o in orders)
assert not (orders[0] == orders[1]).all() and not (orders[1] == orders[2]).all()
assert not (orders[0] == np.arange(10000)).all()
# The same image cropped in epochs 0 and 1: mostly different windows.
first = {{i: n for n, i in enumerate(orders[0])}}
second = {{i: 10000 + n for n, i in enumerate(orders[1])}}
differ = sum((x[first[i]] != x[second[i]]).any() for i in range(1000))
assert differ > 800, differ
# Every crop is a shifted piece of its image (its pixels among the image's).
print("ok", differ)
"#,
        dir = dir.path().display()
    ));
    assert!(checked.starts_with("ok"), "{checked}");

    // Anywhere else, a located error.
    let misplaced = write(
        dir.path(),
        "bad.toml",
        "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"take\"\ncount = 2\n\n\
         [[stage]]\nname = \"again\"\nop = \"repeat\"\nepochs = 2\n\n[[stage]]\nop = \"discard\"\n",
    );
    let output = baton().arg("check").arg(&misplaced).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let log = stderr(&output);
    assert!(
        log.contains("`repeat` must come right after the source"),
        "{log}"
    );
    assert!(log.contains("bad.toml:11"), "{log}");
}
