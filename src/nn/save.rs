//! Saving and loading an [`Mlp`]'s parameters as JSON (feature `serde`).
//!
//! The file lists the layers, each with its shape (inputs, neurons, activation,
//! bias layout) and its values: one row of weights per neuron and the biases
//! (one per neuron, or one if shared). Loading checks every shape against the
//! network it is loaded into and says where they differ.
//!
//! ```
//! use chainrule::nn::{Activation, Mlp};
//!
//! let mlp = Mlp::builder(2).layer(3, Activation::Tanh).layer(1, Activation::Identity).seed(5).build()?;
//! let json = mlp.to_json();
//! let mut fresh = Mlp::builder(2).layer(3, Activation::Tanh).layer(1, Activation::Identity).build()?;
//! fresh.load_json(&json)?;
//! assert_eq!(fresh, mlp);
//! # Ok::<(), chainrule::nn::Error>(())
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::nn::{Error, Mlp, ParamRef};

/// The value of the `format` field of every parameter file.
pub const FORMAT: &str = "chainrule-mlp-parameters/1";

/// A parameter file, as serialized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParameterFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The number of inputs of the network.
    pub inputs: usize,
    /// The layers, input side first.
    pub layers: Vec<LayerParameters>,
}

/// One layer of a parameter file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerParameters {
    /// The number of inputs of each neuron.
    pub inputs: usize,
    /// The activation's name, exactly (case-sensitive): `identity`,
    /// `sigmoid`, `tanh` or `relu` ([`Activation::name`](crate::Activation::name)).
    pub activation: String,
    /// Whether one bias is shared by the layer.
    pub shared_bias: bool,
    /// Whether the biases are frozen.
    pub frozen_bias: bool,
    /// One row of weights per neuron, in input order.
    pub weights: Vec<Vec<f64>>,
    /// The biases: one per neuron, or one if shared.
    pub biases: Vec<f64>,
}

impl ParameterFile {
    /// The file of `mlp`'s current parameters.
    ///
    /// ```
    /// use chainrule::nn::{save::ParameterFile, Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(3, Activation::Tanh).build()?;
    /// let file = ParameterFile::of(&mlp);
    /// assert_eq!(file.layers[0].weights.len(), 3);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    pub fn of(mlp: &Mlp) -> Self {
        let params = mlp.params();
        let layers = mlp
            .layers()
            .iter()
            .map(|layer| {
                let spec = layer.spec();
                let neurons = layer.neurons();
                let weights = neurons
                    .iter()
                    .map(|n| params.trainable[n.weights()].to_vec())
                    .collect();
                let bias_count = if spec.is_bias_shared() {
                    1
                } else {
                    neurons.len()
                };
                let biases = neurons[..bias_count]
                    .iter()
                    .map(|n| params.get(n.bias()))
                    .collect();
                LayerParameters {
                    inputs: layer.inputs(),
                    activation: layer.activation().name().to_owned(),
                    shared_bias: spec.is_bias_shared(),
                    frozen_bias: spec.is_bias_frozen(),
                    weights,
                    biases,
                }
            })
            .collect();
        ParameterFile {
            format: FORMAT.to_owned(),
            inputs: mlp.inputs(),
            layers,
        }
    }

    /// Writes the file's values into `mlp`, after checking every shape.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming the first difference (format, inputs,
    /// number of layers, a layer's inputs, neurons, activation, bias layout, a
    /// row's length, a non-finite value; layers counted from 1, neurons from 0,
    /// as in the labels of [`Mlp::bind`]); `mlp` is unchanged then.
    pub fn apply_to(&self, mlp: &mut Mlp) -> Result<(), Error> {
        self.check(mlp)?;
        let (mut trainable, mut frozen) =
            (mlp.parameters().to_vec(), mlp.frozen_parameters().to_vec());
        for (layer, saved) in mlp.layers().iter().zip(&self.layers) {
            for (neuron, row) in layer.neurons().iter().zip(&saved.weights) {
                trainable[neuron.weights()].copy_from_slice(row);
            }
            for (neuron, &b) in layer.neurons().iter().zip(&saved.biases) {
                match neuron.bias() {
                    ParamRef::Trainable(i) => trainable[i] = b,
                    ParamRef::Frozen(i) => frozen[i] = b,
                }
            }
        }
        mlp.set_parameters(&trainable)?;
        mlp.frozen_parameters_mut().copy_from_slice(&frozen);
        Ok(())
    }

    fn check(&self, mlp: &Mlp) -> Result<(), Error> {
        let mismatch = |why: String| Err(Error::ShapeMismatch(why));
        if self.format != FORMAT {
            return mismatch(format!(
                "its format is {:?}, expected {FORMAT:?}",
                self.format
            ));
        }
        if self.inputs != mlp.inputs() {
            return mismatch(format!(
                "the file's network takes {} {}, this one {}",
                self.inputs,
                crate::plural(self.inputs, "input", "inputs"),
                mlp.inputs()
            ));
        }
        if self.layers.len() != mlp.layers().len() {
            return mismatch(format!(
                "the file has {} {}, the network {}",
                self.layers.len(),
                crate::plural(self.layers.len(), "layer", "layers"),
                mlp.layers().len()
            ));
        }
        for (k, (layer, saved)) in mlp.layers().iter().zip(&self.layers).enumerate() {
            // Layers count from 1, as in the builder's errors and the labels of
            // `Mlp::bind` (`layer1.neuron0.w0`); neurons from 0.
            let k = k + 1;
            let spec = layer.spec();
            let differs = |what: &str, file: String, model: String| {
                mismatch(format!(
                    "layer {k}: {what} is {file} in the file but {model} in the network"
                ))
            };
            if saved.inputs != layer.inputs() {
                return differs(
                    "the number of inputs",
                    saved.inputs.to_string(),
                    layer.inputs().to_string(),
                );
            }
            if saved.weights.len() != layer.outputs() {
                return differs(
                    "the number of neurons",
                    saved.weights.len().to_string(),
                    layer.outputs().to_string(),
                );
            }
            if saved.activation != layer.activation().name() {
                // "Sigmoid" read as the same activation as "sigmoid": the names
                // are compared exactly, so one that is none of them says so.
                let known = ["identity", "sigmoid", "tanh", "relu"];
                let file = if known.contains(&saved.activation.as_str()) {
                    saved.activation.clone()
                } else {
                    format!(
                        "{:?} (not an activation's name: the names are case-sensitive, \
                         one of identity, sigmoid, tanh or relu)",
                        saved.activation
                    )
                };
                return differs("the activation", file, layer.activation().to_string());
            }
            if saved.shared_bias != spec.is_bias_shared() {
                return differs(
                    "shared_bias",
                    saved.shared_bias.to_string(),
                    spec.is_bias_shared().to_string(),
                );
            }
            if saved.frozen_bias != spec.is_bias_frozen() {
                return differs(
                    "frozen_bias",
                    saved.frozen_bias.to_string(),
                    spec.is_bias_frozen().to_string(),
                );
            }
            if let Some((j, row)) = saved
                .weights
                .iter()
                .enumerate()
                .find(|(_, row)| row.len() != layer.inputs())
            {
                return differs(
                    &format!("neuron {j}'s number of weights"),
                    row.len().to_string(),
                    layer.inputs().to_string(),
                );
            }
            let bias_count = if spec.is_bias_shared() {
                1
            } else {
                layer.outputs()
            };
            if saved.biases.len() != bias_count {
                return differs(
                    "the number of biases",
                    saved.biases.len().to_string(),
                    bias_count.to_string(),
                );
            }
            let all = saved.weights.iter().flatten().chain(&saved.biases);
            if let Some(v) = all.copied().find(|v| !v.is_finite()) {
                return mismatch(format!("layer {k} holds a non-finite value {v}"));
            }
        }
        Ok(())
    }
}

impl Mlp {
    /// The parameters as pretty-printed JSON (see [`save`](crate::nn::save)).
    /// Non-finite values are written as `null` (JSON has no NaN) and refused
    /// when loading.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&ParameterFile::of(self))
            .expect("a parameter file always serializes")
    }

    /// Loads parameters from JSON written by [`to_json`](Mlp::to_json).
    ///
    /// # Errors
    /// [`Error::Json`] if it is not such JSON; [`Error::ShapeMismatch`] if its
    /// shapes differ from this network's. The network is unchanged on error.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Error, Mlp};
    /// let small = Mlp::builder(2).layer(3, Activation::Tanh).build()?;
    /// let mut wide = Mlp::builder(2).layer(4, Activation::Tanh).build()?;
    /// let err = wide.load_json(&small.to_json()).unwrap_err();
    /// assert!(matches!(err, Error::ShapeMismatch(_)));
    /// // Layers count from 1, as in the labels of `Mlp::bind`.
    /// assert!(err.to_string().contains("layer 1: the number of neurons is 3 in the file but 4"));
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn load_json(&mut self, json: &str) -> Result<(), Error> {
        let file: ParameterFile = serde_json::from_str(json).map_err(Error::Json)?;
        file.apply_to(self)
    }

    /// Writes the parameters to a JSON file, atomically: a file already at
    /// `path` is either replaced whole by the new parameters or, if the save
    /// fails at any point, left exactly as it was.
    ///
    /// The JSON is written to a new temporary file in the same directory
    /// (named `.{file name}.{process id}.{counter}.tmp`, created exclusively),
    /// flushed to the disk (`sync_all`), then renamed over `path`, which
    /// replaces the old file in one step on POSIX systems (on Windows the
    /// rename replaces it too, but Windows does not promise that step to be
    /// atomic); on Unix the directory is then
    /// synced too, so that the rename itself survives a crash (an error there is
    /// ignored: the new file is already in place). If anything fails before the
    /// rename (the directory cannot be written, the disk is full, a file size
    /// limit), the temporary file is removed and the old file is untouched.
    /// As with any rename, the new file has the permissions and owner a newly
    /// created file gets, not the old file's, a symbolic link at `path` is
    /// replaced by the file rather than followed (and a hard link to the old
    /// file keeps the old parameters), and the directory must be writable
    /// (writing the file in place needed only the file to be).
    ///
    /// # Errors
    /// [`Error::Io`] of kind [`InvalidData`](std::io::ErrorKind::InvalidData),
    /// naming the layer (from 1) and the parameter, if a parameter is NaN or
    /// infinite: [`to_json`](Mlp::to_json) would write it `null`, and no load
    /// takes that back, so nothing is written and a file at `path` stays.
    /// [`Error::Io`] if the temporary file cannot be created, written or synced,
    /// or the rename fails; the old file at `path`, if any, is then as it was
    /// and no temporary file is left. Each message names `path`.
    /// [`Error::Io`] of kind [`IsADirectory`](std::io::ErrorKind::IsADirectory),
    /// before anything is written, if `path` is a directory or ends in a path
    /// separator: the message says so and suggests a file name in it.
    /// [`Error::Io`] of kind [`InvalidInput`](std::io::ErrorKind::InvalidInput)
    /// if `path` has no file name (it ends in `..`, or is a root).
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(1, Activation::Identity).seed(1).build()?;
    /// let path = std::env::temp_dir().join(format!("doc-save-{}.json", std::process::id()));
    /// mlp.save_parameters(&path)?;
    /// mlp.save_parameters(&path)?; // replaces the file whole
    /// let mut loaded = Mlp::builder(2).layer(1, Activation::Identity).build()?;
    /// loaded.load_parameters(&path)?;
    /// assert_eq!(loaded, mlp);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn save_parameters(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let file = ParameterFile::of(self);
        // A non-finite value would be written `null`, which no load accepts:
        // refused before anything is written, so a good file there stays.
        for (k, layer) in file.layers.iter().enumerate() {
            // (neuron, Some(input) for a weight or None for the bias, value)
            let weights =
                layer.weights.iter().enumerate().flat_map(|(j, row)| {
                    row.iter().enumerate().map(move |(i, &v)| (j, Some(i), v))
                });
            let biases = layer.biases.iter().enumerate().map(|(j, &v)| (j, None, v));
            if let Some((j, input, v)) = weights.chain(biases).find(|&(_, _, v)| !v.is_finite()) {
                let which = match input {
                    Some(i) => format!("neuron {j}'s weight {i}"),
                    None if layer.shared_bias => "the shared bias".to_string(),
                    None => format!("neuron {j}'s bias"),
                };
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "cannot save parameters to {}: layer {}, {which}, is {v} (JSON has no \
                         NaN or infinity, and a file holding it could not be loaded); nothing was written",
                        path.display(),
                        k + 1
                    ),
                )));
            }
        }
        if let Some(why) = names_a_directory(path) {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!(
                    "cannot save parameters to {}: {why}; give the path of a file (such as {})",
                    path.display(),
                    path.join("parameters.json").display()
                ),
            )));
        }
        let json = serde_json::to_string_pretty(&file).expect("a parameter file always serializes");
        write_atomically(path, json.as_bytes()).map_err(|e| {
            Error::Io(io::Error::new(
                e.kind(),
                format!("cannot save parameters to {}: {e}", path.display()),
            ))
        })?;
        Ok(())
    }

    /// Reads parameters from a JSON file written by
    /// [`save_parameters`](Mlp::save_parameters).
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be read (the message names `path`), otherwise
    /// as [`load_json`](Mlp::load_json).
    pub fn load_parameters(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path).map_err(|e| {
            Error::Io(io::Error::new(
                e.kind(),
                format!("cannot read parameters from {}: {e}", path.display()),
            ))
        })?;
        self.load_json(&json)
    }
}

/// Why `path` cannot name the file to save to, if it names a directory: one
/// that exists, or (existing or not) a path ending in a separator. The rename
/// would fail there ("Not a directory" for `dir/`, though it is one).
fn names_a_directory(path: &Path) -> Option<&'static str> {
    let text = path.as_os_str().as_encoded_bytes();
    if path.file_name().is_none() {
        // `..` or a root: refused as having no file name (InvalidInput).
        None
    } else if path.is_dir() {
        Some("it is a directory")
    } else if text
        .last()
        .is_some_and(|&b| std::path::is_separator(char::from(b)))
    {
        Some("it ends in a path separator, so it names a directory")
    } else {
        None
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// synced then renamed over `path`: see [`Mlp::save_parameters`]. On error the
/// temporary file is removed and `path` is untouched.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (temp, mut file) = create_temporary(path)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.flush())
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        // The rename did not happen: `path` is as it was. Removing the
        // temporary file is best effort; the first error is the one to report.
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_directory(path);
    Ok(())
}

/// A new file next to `path`, created exclusively (never an existing file, so
/// two saves at once, or a stray file of that name, are not written over).
fn create_temporary(path: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    let directory = path.parent().unwrap_or(Path::new(""));
    let mut attempts = 0;
    loop {
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        temp_name.push(format!(".{}.{count}.tmp", std::process::id()));
        let temp = directory.join(temp_name);
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Syncs the directory holding `path`, so that a rename into it is on the
/// disk (Unix; best effort: the file is already in place).
fn sync_directory(path: &Path) {
    #[cfg(unix)]
    {
        let directory = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(directory) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
