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

use baton_ops::{Item, Payload, Tensor};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
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

/// The items a Python function's answer stands for, pushed on `out`: a
/// `dict` is one item, `None` none, a list or tuple of dicts one each.
///
/// A dict's keys are the item's fields (JSON values; a NumPy array or
/// scalar is taken as its `tolist()`), except the payload, under the name
/// of its kind as [`item_to_python`] puts it: `tensor` (any array NumPy can
/// make `float32`), `image` (`uint8`, height × width, or × 1, 3 or 4
/// channels), `bytes` (`bytes` or `bytearray`), `items` (a list of dicts: a
/// batch). An item holds one payload at most.
///
/// # Errors
///
/// A `TypeError` or `ValueError` that names the key, for anything that is
/// not an item.
///
/// # Examples
///
/// ```
/// pyo3::Python::initialize();
/// pyo3::Python::attach(|py| {
///     let answer = py.eval(c"[{'n': 1}, {'n': 2}]", None, None).unwrap();
///     let mut out = Vec::new();
///     _baton::outputs_of(&answer, &mut out).unwrap();
///     assert_eq!(out, [baton_ops::Item::with_field("n", 1), baton_ops::Item::with_field("n", 2)]);
///     _baton::outputs_of(&py.None().into_bound(py), &mut out).unwrap();
///     assert_eq!(out.len(), 2);
/// });
/// ```
pub fn outputs_of(answer: &Bound<'_, PyAny>, out: &mut Vec<Item>) -> PyResult<()> {
    if answer.is_none() {
        return Ok(());
    }
    if let Ok(dict) = answer.cast::<PyDict>() {
        out.push(item_from_python(dict)?);
        return Ok(());
    }
    if answer.is_instance_of::<PyList>() || answer.is_instance_of::<PyTuple>() {
        for (at, one) in answer.try_iter()?.enumerate() {
            let one = one?;
            let dict = one.cast::<PyDict>().map_err(|_| {
                PyTypeError::new_err(format!("[{at}] is a {}, not a dict", type_name(&one)))
            })?;
            out.push(item_from_python(dict)?);
        }
        return Ok(());
    }
    Err(PyTypeError::new_err(format!(
        "a {}: return a dict (one item), None (no item) or a list of dicts",
        type_name(answer)
    )))
}

/// One item from its dict (see [`outputs_of`]).
fn item_from_python(dict: &Bound<'_, PyDict>) -> PyResult<Item> {
    let mut item = Item::default();
    let mut payload_key: Option<String> = None;
    for (key, value) in dict.iter() {
        let key: String = key.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "a key {} is not a string",
                key.repr().map_or_else(|_| "?".into(), |r| r.to_string())
            ))
        })?;
        let payload = match key.as_str() {
            "tensor" => Some(tensor_of(&value)?),
            "image" => Some(image_of(&value)?),
            "bytes" => Some(Payload::Bytes(value.extract::<Vec<u8>>().map_err(
                |_| PyTypeError::new_err(format!("`bytes` is a {}, not bytes", type_name(&value))),
            )?)),
            "items" => {
                let mut items = Vec::new();
                outputs_of(&value, &mut items).map_err(|error| {
                    PyTypeError::new_err(format!("`items`: {}", error.value(value.py())))
                })?;
                Some(Payload::Batch(items))
            }
            _ => None,
        };
        match payload {
            Some(payload) => {
                if let Some(first) = &payload_key {
                    return Err(PyValueError::new_err(format!(
                        "`{first}` and `{key}`: an item holds one payload"
                    )));
                }
                payload_key = Some(key);
                item.payload = payload;
            }
            None => {
                let json = json_of(&value).map_err(|error| {
                    PyTypeError::new_err(format!("`{key}`: {}", error.value(value.py())))
                })?;
                item.fields.insert(key, json);
            }
        }
    }
    Ok(item)
}

/// `value` as NumPy makes it, `dtype` and C-contiguous.
fn numpy_array<'py>(value: &Bound<'py, PyAny>, dtype: &str) -> PyResult<Bound<'py, PyAny>> {
    let numpy = value.py().import("numpy")?;
    let kwargs = PyDict::new(value.py());
    kwargs.set_item("dtype", dtype)?;
    numpy.call_method("ascontiguousarray", (value,), Some(&kwargs))
}

/// A tensor payload: any array NumPy can make `float32`.
fn tensor_of(value: &Bound<'_, PyAny>) -> PyResult<Payload> {
    let array = numpy_array(value, "float32")
        .map_err(|error| PyTypeError::new_err(format!("`tensor`: {}", error.value(value.py()))))?;
    let array = array.cast::<PyArrayDyn<f32>>()?.readonly();
    let shape = array.shape().to_vec();
    let data = array.as_slice()?.to_vec();
    Ok(Payload::Tensor(Tensor { shape, data }))
}

/// An image payload: `uint8`, height × width, or × 1, 3 or 4 channels.
fn image_of(value: &Bound<'_, PyAny>) -> PyResult<Payload> {
    let array = numpy_array(value, "uint8")
        .map_err(|error| PyTypeError::new_err(format!("`image`: {}", error.value(value.py()))))?;
    let array = array.cast::<PyArrayDyn<u8>>()?.readonly();
    let shape = array.shape().to_vec();
    let pixels = array.as_slice()?.to_vec();
    let bad = || {
        PyValueError::new_err(format!(
            "`image` has the shape {shape:?}: give height × width, or × 1, 3 or 4 channels"
        ))
    };
    let (height, width, channels) = match shape[..] {
        [h, w] => (h, w, 1),
        [h, w, c] if [1, 3, 4].contains(&c) => (h, w, c),
        _ => return Err(bad()),
    };
    let (width, height) = (
        u32::try_from(width).map_err(|_| bad())?,
        u32::try_from(height).map_err(|_| bad())?,
    );
    let image = match channels {
        1 => image::GrayImage::from_raw(width, height, pixels).map(image::DynamicImage::ImageLuma8),
        3 => image::RgbImage::from_raw(width, height, pixels).map(image::DynamicImage::ImageRgb8),
        _ => image::RgbaImage::from_raw(width, height, pixels).map(image::DynamicImage::ImageRgba8),
    };
    image.map(Payload::Image).ok_or_else(bad)
}

/// A field's value as JSON: `None`, `bool`, `int`, `float`, `str`, lists,
/// tuples and dicts of them, and NumPy arrays and scalars (their
/// `tolist()`).
fn json_of(value: &Bound<'_, PyAny>) -> PyResult<Value> {
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = value.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(PyValueError::new_err(format!(
            "{value} is too big for a field (64 bits)"
        )));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        let f = f.value();
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "{f} cannot be a field (JSON has no NaN or infinity)"
                ))
            });
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut fields = serde_json::Map::new();
        for (key, value) in dict.iter() {
            let key: String = key
                .extract()
                .map_err(|_| PyTypeError::new_err("a dict's keys are strings"))?;
            fields.insert(key, json_of(&value)?);
        }
        return Ok(Value::Object(fields));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return value
            .try_iter()?
            .map(|one| json_of(&one?))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if value.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "bytes cannot be a field: an item's bytes go under the key `bytes` (one per item)",
        ));
    }
    if value.hasattr("tolist")? {
        // A NumPy array or scalar (or anything that says what it holds so).
        return json_of(&value.call_method0("tolist")?);
    }
    Err(PyTypeError::new_err(format!(
        "a {} cannot be a field (fields hold JSON values and NumPy arrays)",
        type_name(value)
    )))
}

/// The name of `value`'s type, for messages.
fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "value".to_string(), |name| name.to_string())
}
