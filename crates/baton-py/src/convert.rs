//! Items as Python sees them: a `dict` of the record's fields, with the
//! payload under the name of its kind.
//!
//! - A field holding an array of numbers (what `batch` with `stack = true`
//!   makes of each field: `label: [9, 2, ...]`) is a NumPy array: `int64`
//!   when every number is an integer, else `float64`. Other values are the
//!   Python value of the JSON (`None`, `bool`, `int`, `float`, `str`,
//!   `list`, `dict`).
//! - The payload goes under its kind: `tensor` (a `float32` array of the
//!   tensor's shape, owning the buffer baton filled: no copy), `image`
//!   (`uint8`, height × width for grey, × 3 or × 4 channels for colour),
//!   `bytes` (`bytes`), `items` (a batch that was not stacked: a list of
//!   dicts). A chunk of records gives one dict per record.

use baton_ops::{Item, Payload};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use pyo3::IntoPyObjectExt;
use serde_json::Value;

/// The Python dicts an item stands for: one, or one per record of a
/// chunk of records.
///
/// # Errors
///
/// When Python cannot make an object (out of memory).
///
/// # Examples
///
/// ```
/// pyo3::Python::initialize();
/// pyo3::Python::attach(|py| {
///     use pyo3::types::PyAnyMethods;
///     let item = baton_ops::Item::with_field("label", 7);
///     let dicts = _baton::item_to_python(py, item).unwrap();
///     assert_eq!(dicts.len(), 1);
///     let label: i64 = dicts[0].get_item("label").unwrap().extract().unwrap();
///     assert_eq!(label, 7);
/// });
/// ```
pub fn item_to_python(py: Python<'_>, item: Item) -> PyResult<Vec<Bound<'_, PyDict>>> {
    if matches!(item.payload, Payload::Records(_)) {
        return item
            .rows()
            .into_iter()
            .map(|row| one_item(py, row))
            .collect();
    }
    Ok(vec![one_item(py, item)?])
}

/// One item (not a chunk of records) as a dict.
fn one_item(py: Python<'_>, item: Item) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in item.fields {
        dict.set_item(name, field_value(py, value)?)?;
    }
    match item.payload {
        Payload::None => {}
        Payload::Tensor(tensor) => {
            // The Vec moves into the array: NumPy reads baton's buffer.
            let flat = PyArray1::from_vec(py, tensor.data);
            dict.set_item("tensor", flat.reshape(tensor.shape)?)?;
        }
        Payload::Image(image) => dict.set_item("image", image_array(py, image)?)?,
        Payload::Bytes(bytes) => dict.set_item("bytes", PyBytes::new(py, &bytes))?,
        Payload::Batch(items) => {
            let list = PyList::empty(py);
            for item in items {
                for one in item_to_python(py, item)? {
                    list.append(one)?;
                }
            }
            dict.set_item("items", list)?;
        }
        // A chunk of records is split into rows by `item_to_python`.
        _ => {}
    }
    Ok(dict)
}

/// A JSON value as Python: arrays of numbers as NumPy arrays.
fn field_value(py: Python<'_>, value: Value) -> PyResult<Bound<'_, PyAny>> {
    match value {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_bound_py_any(py),
            (None, Some(u)) => u.into_bound_py_any(py),
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py),
        },
        Value::String(s) => s.into_bound_py_any(py),
        Value::Array(values) => {
            let numbers = !values.is_empty() && values.iter().all(Value::is_number);
            if numbers && values.iter().all(Value::is_i64) {
                let ints: Vec<i64> = values.iter().filter_map(Value::as_i64).collect();
                return PyArray1::from_vec(py, ints).into_bound_py_any(py);
            }
            if numbers {
                let floats: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
                return PyArray1::from_vec(py, floats).into_bound_py_any(py);
            }
            let list = PyList::empty(py);
            for value in values {
                list.append(field_value(py, value)?)?;
            }
            list.into_bound_py_any(py)
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (name, value) in fields {
                dict.set_item(name, field_value(py, value)?)?;
            }
            dict.into_bound_py_any(py)
        }
    }
}

/// An image as a `uint8` array: height × width (grey), or height × width ×
/// channels (3 for colour, 4 with alpha).
fn image_array(py: Python<'_>, image: image::DynamicImage) -> PyResult<Bound<'_, PyAny>> {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let (pixels, shape) = match image {
        image::DynamicImage::ImageLuma8(grey) => (grey.into_raw(), vec![height, width]),
        image::DynamicImage::ImageRgb8(rgb) => (rgb.into_raw(), vec![height, width, 3]),
        image::DynamicImage::ImageRgba8(rgba) => (rgba.into_raw(), vec![height, width, 4]),
        other if other.color().has_alpha() => (other.to_rgba8().into_raw(), vec![height, width, 4]),
        other => (other.to_rgb8().into_raw(), vec![height, width, 3]),
    };
    PyArray1::from_vec(py, pixels)
        .reshape(shape)?
        .into_bound_py_any(py)
}
