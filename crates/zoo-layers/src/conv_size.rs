//! The convolution arithmetic of the course notes (d2l 7.3, CS231n "Conv
//! layers"; Dumoulin & Visin 2016), as `torch.nn.Conv2d`, `ConvTranspose2d`
//! and the pooling layers compute output sizes.

use std::fmt;

/// Why an output size does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeError(String);

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SizeError {}

/// Output size of a convolution along one axis:
/// `floor((input + 2 padding - dilation (kernel - 1) - 1) / stride) + 1`.
///
/// An error when the (dilated) kernel does not fit the padded input, or
/// when `kernel`, `stride` or `dilation` is zero.
pub fn conv_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Result<usize, SizeError> {
    pool_output_size(input, kernel, stride, padding, dilation, false)
}

/// Output size of a pooling window along one axis, with `ceil_mode` as in
/// `torch.nn.MaxPool2d` (in ceil mode a last window that would start in the
/// right padding is dropped).
pub fn pool_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    ceil_mode: bool,
) -> Result<usize, SizeError> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return Err(SizeError(format!(
            "kernel ({kernel}), stride ({stride}) and dilation ({dilation}) must be positive"
        )));
    }
    let span = dilation * (kernel - 1) + 1;
    let padded = input + 2 * padding;
    if padded < span {
        return Err(SizeError(format!(
            "a kernel spanning {span} (kernel {kernel}, dilation {dilation}) does not fit an \
             input of {input} padded by {padding} on each side"
        )));
    }
    let room = padded - span;
    let mut out = if ceil_mode {
        room.div_ceil(stride) + 1
    } else {
        room / stride + 1
    };
    if ceil_mode && (out - 1) * stride >= input + padding {
        out -= 1;
    }
    Ok(out)
}

/// Output size of a transposed convolution along one axis:
/// `(input - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1`.
///
/// An error when the result is not positive, or when `output_padding` is not
/// smaller than `stride` or `dilation` (PyTorch's rule).
pub fn conv_transpose_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    output_padding: usize,
) -> Result<usize, SizeError> {
    if input == 0 || kernel == 0 || stride == 0 || dilation == 0 {
        return Err(SizeError(format!(
            "input ({input}), kernel ({kernel}), stride ({stride}) and dilation ({dilation}) \
             must be positive"
        )));
    }
    if output_padding >= stride && output_padding >= dilation {
        return Err(SizeError(format!(
            "output_padding ({output_padding}) must be smaller than stride ({stride}) or \
             dilation ({dilation})"
        )));
    }
    let grown = (input - 1) * stride + dilation * (kernel - 1) + output_padding + 1;
    grown
        .checked_sub(2 * padding)
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            SizeError(format!(
                "padding {padding} on each side removes the whole output of {grown}"
            ))
        })
}

/// Parameters of a standard `k x k` convolution: `c_in c_out k^2` (+ `c_out` biases).
pub fn conv_params(c_in: usize, c_out: usize, k: usize, bias: bool) -> usize {
    c_in * c_out * k * k + if bias { c_out } else { 0 }
}

/// Parameters of a depthwise-separable convolution (MobileNet): a depthwise
/// `k x k` convolution per input channel, `c_in k^2`, then a pointwise 1x1
/// one, `c_in c_out` (+ `c_in + c_out` biases).
pub fn depthwise_separable_params(c_in: usize, c_out: usize, k: usize, bias: bool) -> usize {
    c_in * k * k + c_in * c_out + if bias { c_in + c_out } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_examples() {
        // AlexNet's first layer: 224, k 11, s 4, p 2 -> 55 (torchvision); LeNet: 28, k 5, p 2 -> 28.
        assert_eq!(conv_output_size(224, 11, 4, 2, 1).unwrap(), 55);
        assert_eq!(conv_output_size(28, 5, 1, 2, 1).unwrap(), 28);
        // CS231n: 7x7 input, 3x3 filter, stride 2, no padding -> 3.
        assert_eq!(conv_output_size(7, 3, 2, 0, 1).unwrap(), 3);
        // FCN upsampling by 32 (k 64, s 32, p 16): 7 -> 224.
        assert_eq!(
            conv_transpose_output_size(7, 64, 32, 16, 1, 0).unwrap(),
            224
        );
        // A 3x3 kernel does not fit 2x2 unpadded.
        assert!(conv_output_size(2, 3, 1, 0, 1).is_err());
        // torch.nn.MaxPool2d(3, 2, ceil_mode=True) on 6 -> 3 (floor mode 2).
        assert_eq!(pool_output_size(6, 3, 2, 0, 1, true).unwrap(), 3);
        assert_eq!(pool_output_size(6, 3, 2, 0, 1, false).unwrap(), 2);
        // MobileNet: 3x3, 32 -> 64: 288 + 2048 vs 18432.
        assert_eq!(depthwise_separable_params(32, 64, 3, false), 2336);
        assert_eq!(conv_params(32, 64, 3, false), 18432);
    }
}
