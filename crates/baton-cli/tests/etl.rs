//! The ETL stages on the real Fashion-MNIST files (Debian's package, which
//! the test command installs): the `idx` source, the image transforms and
//! the tensor sinks, checked against NumPy reading the same IDX files on
//! its own, and a seeded augmentation giving the same bytes twice.

mod common;

use std::path::Path;
use std::process::Command;

use common::{baton, examples, stderr, write};

const DATA: &str = "/usr/share/datasets/fashion-mnist";

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
            "[[stage]]\nop = \"idx\"\nimages = \"{DATA}/t10k-images-idx3-ubyte.gz\"\n\
             labels = \"{DATA}/t10k-labels-idx1-ubyte.gz\"\n\n\
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
                "[[stage]]\nop = \"idx\"\nimages = \"{DATA}/t10k-images-idx3-ubyte.gz\"\n\
                 labels = \"{DATA}/t10k-labels-idx1-ubyte.gz\"\n\n\
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
