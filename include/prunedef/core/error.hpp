#pragma once
// The exception types of prunedef. Every message names the file, the HDF5 path (or layer) and
// what was expected versus what was found. Inputs are validated once, at load or construction;
// the kernels assume valid input and never throw.

#include <stdexcept>
#include <string>

namespace prunedef {

/// Base of every exception prunedef throws.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A file could not be opened, read or written (missing, truncated, not HDF5, no permission).
class io_error : public error {
public:
    using error::error;
};

/// A file was readable but its content is not what the layout requires (missing group,
/// wrong dtype, NaN in weights, labels that are not class indices, ...).
class format_error : public error {
public:
    using error::error;
};

/// Sizes that do not fit together: a kernel of the wrong shape, a data set whose images do not
/// match the model's input, a tensor passed to a layer that expects another shape.
class shape_error : public error {
public:
    using error::error;
};

/// A caller passed an argument outside the documented range (a threshold below zero, ...).
class argument_error : public error {
public:
    using error::error;
};

/// A computation gave a non-finite result where a number is required (a network whose forward
/// pass overflows to inf or NaN logits): never turned into a class or an accuracy.
class numeric_error : public error {
public:
    using error::error;
};

}  // namespace prunedef
