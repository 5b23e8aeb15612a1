//! torchvision's `BoxCoder` (`models/detection/_utils.py`): boxes as
//! offsets from reference boxes, the parameterisation of R-CNN's box
//! regression (Girshick et al. 2014, appendix C).
//!
//! With widths `w = x2 - x1` and centres `c = x1 + w / 2` (`h`, `cy` the
//! same on y), a box `g` is encoded against a proposal `p` as
//! `(wx (gx - px) / pw, wy (gy - py) / ph, ww log(gw / pw), wh log(gh / ph))`;
//! decoding inverts it, the size deltas clamped at `bbox_xform_clip`
//! (default `log(1000 / 16)`) before the exponential. Tensor ops on any
//! device, differentiable.

use burn::tensor::Tensor;

use crate::DetectError;

/// torchvision's default `bbox_xform_clip`, `log(1000 / 16)`.
pub const DEFAULT_BBOX_XFORM_CLIP: f64 = 4.135_166_556_742_356;

/// `BoxCoder(weights, bbox_xform_clip)`: the RPN uses weights `(1, 1, 1, 1)`,
/// the Fast R-CNN box head `(10, 10, 5, 5)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxCoder {
    /// `(wx, wy, ww, wh)`: the scale of each offset.
    pub weights: [f64; 4],
    /// The largest size delta (after dividing by its weight) decoded.
    pub bbox_xform_clip: f64,
}

impl BoxCoder {
    /// `BoxCoder(weights)` with the default clip ([`DEFAULT_BBOX_XFORM_CLIP`]).
    pub fn new(weights: [f64; 4]) -> Self {
        Self {
            weights,
            bbox_xform_clip: DEFAULT_BBOX_XFORM_CLIP,
        }
    }

    /// The same coder with another `bbox_xform_clip`.
    pub fn with_clip(self, bbox_xform_clip: f64) -> Self {
        Self {
            bbox_xform_clip,
            ..self
        }
    }

    fn check(&self, op: &'static str) -> Result<(), DetectError> {
        if self.weights.iter().any(|w| !w.is_finite() || *w == 0.0) || self.bbox_xform_clip.is_nan()
        {
            return Err(DetectError::new(
                op,
                format!(
                    "weights {:?}, bbox_xform_clip {}: expected finite non-zero weights and a clip",
                    self.weights, self.bbox_xform_clip
                ),
            ));
        }
        Ok(())
    }

    /// `encode_single(reference_boxes, proposals)`: the offsets `[N, 4]`
    /// that take each proposal to its reference box (both `[N, 4]` `xyxy`).
    pub fn encode_single(
        &self,
        reference_boxes: Tensor<2>,
        proposals: Tensor<2>,
    ) -> Result<Tensor<2>, DetectError> {
        let op = "box_coder_encode";
        self.check(op)?;
        let (rd, pd) = (reference_boxes.dims(), proposals.dims());
        if rd[1] != 4 || rd != pd {
            return Err(DetectError::new(
                op,
                format!(
                    "reference boxes of shape {rd:?} and proposals of shape {pd:?}: expected both [N, 4]"
                ),
            ));
        }
        if rd[0] == 0 {
            return Ok(reference_boxes);
        }
        let [wx, wy, ww, wh] = self.weights;
        let (pw, ph, pcx, pcy) = geometry(&proposals);
        let (gw, gh, gcx, gcy) = geometry(&reference_boxes);
        let dx = (gcx - pcx).mul_scalar(wx) / pw.clone();
        let dy = (gcy - pcy).mul_scalar(wy) / ph.clone();
        let dw = (gw / pw).log().mul_scalar(ww);
        let dh = (gh / ph).log().mul_scalar(wh);
        Ok(Tensor::cat(vec![dx, dy, dw, dh], 1))
    }

    /// `encode(reference_boxes, proposals)` over several images: one
    /// [`encode_single`](Self::encode_single) of the concatenated boxes,
    /// split back per image.
    pub fn encode(
        &self,
        reference_boxes: &[Tensor<2>],
        proposals: &[Tensor<2>],
    ) -> Result<Vec<Tensor<2>>, DetectError> {
        if reference_boxes.len() != proposals.len() {
            return Err(DetectError::new(
                "box_coder_encode",
                format!(
                    "{} images of reference boxes and {} of proposals, expected as many",
                    reference_boxes.len(),
                    proposals.len()
                ),
            ));
        }
        reference_boxes
            .iter()
            .zip(proposals)
            .map(|(r, p)| self.encode_single(r.clone(), p.clone()))
            .collect()
    }

    /// `decode_single(rel_codes [N, 4k], boxes [N, 4])`: `[N, 4k]`, each
    /// group of four offsets applied to its row's box.
    pub fn decode_single(
        &self,
        rel_codes: Tensor<2>,
        boxes: Tensor<2>,
    ) -> Result<Tensor<2>, DetectError> {
        let op = "box_coder_decode";
        self.check(op)?;
        let ([n, c], bd) = (rel_codes.dims(), boxes.dims());
        if bd[1] != 4 || bd[0] != n || c % 4 != 0 {
            return Err(DetectError::new(
                op,
                format!(
                    "codes of shape {:?} and boxes of shape {bd:?}: expected [N, 4k] and [N, 4]",
                    [n, c]
                ),
            ));
        }
        let k = c / 4;
        if n == 0 || k == 0 {
            return Ok(rel_codes);
        }
        let [wx, wy, ww, wh] = self.weights;
        // Each box term as a full `[N, k]` copy (no broadcasting, see
        // `boxes::pairs` for the wgpu kernel that broadcasting trips).
        let (w, h, cx, cy) = geometry(&boxes);
        let [w, h, cx, cy] = [w, h, cx, cy].map(|t| t.repeat_dim(1, k));
        let codes = rel_codes.reshape([n, k, 4]);
        let part = |i: usize| codes.clone().slice([0..n, 0..k, i..i + 1]).reshape([n, k]);
        let dx = part(0).div_scalar(wx);
        let dy = part(1).div_scalar(wy);
        let dw = part(2).div_scalar(ww).clamp_max(self.bbox_xform_clip);
        let dh = part(3).div_scalar(wh).clamp_max(self.bbox_xform_clip);
        let pcx = dx * w.clone() + cx;
        let pcy = dy * h.clone() + cy;
        let half_w = (dw.exp() * w).mul_scalar(0.5);
        let half_h = (dh.exp() * h).mul_scalar(0.5);
        let corners = [
            pcx.clone() - half_w.clone(),
            pcy.clone() - half_h.clone(),
            pcx + half_w,
            pcy + half_h,
        ]
        .map(|t| t.reshape([n, k, 1]));
        Ok(Tensor::cat(corners.to_vec(), 2).reshape([n, c]))
    }

    /// `decode(rel_codes, boxes)`: the codes of every image's boxes
    /// (`[sum N_i, 4k]`, image after image) against the concatenated
    /// `boxes`, as `[sum N_i, k, 4]`.
    pub fn decode(
        &self,
        rel_codes: Tensor<2>,
        boxes: &[Tensor<2>],
    ) -> Result<Tensor<3>, DetectError> {
        let total: usize = boxes.iter().map(|b| b.dims()[0]).sum();
        let [n, c] = rel_codes.dims();
        if n != total {
            return Err(DetectError::new(
                "box_coder_decode",
                format!("{n} rows of codes for {total} boxes, expected as many"),
            ));
        }
        let device = rel_codes.device();
        let concat = if boxes.is_empty() {
            Tensor::zeros([0, 4], &device)
        } else {
            Tensor::cat(boxes.to_vec(), 0)
        };
        let decoded = self.decode_single(rel_codes, concat)?;
        if n == 0 || c == 0 {
            return Ok(Tensor::zeros([n, c / 4, 4], &device));
        }
        Ok(decoded.reshape([n, c / 4, 4]))
    }
}

/// Widths, heights and centres of `[N, 4]` `xyxy` boxes, each `[N, 1]`.
fn geometry(boxes: &Tensor<2>) -> (Tensor<2>, Tensor<2>, Tensor<2>, Tensor<2>) {
    let n = boxes.dims()[0];
    let [x1, y1, x2, y2] = [0, 1, 2, 3].map(|i| boxes.clone().slice([0..n, i..i + 1]));
    let w = x2 - x1.clone();
    let h = y2 - y1.clone();
    let cx = x1 + w.clone().mul_scalar(0.5);
    let cy = y1 + h.clone().mul_scalar(0.5);
    (w, h, cx, cy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tensor;

    fn dev() -> burn::tensor::Device {
        zoo_device::from_name("flex").unwrap()
    }

    fn read(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec_as::<f32>().unwrap()
    }

    fn close(got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-5 + 1e-5 * w.abs(),
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn encodes_and_decodes_as_torchvision() {
        // from torchvision.models.detection._utils import BoxCoder
        // c = BoxCoder((10., 10., 5., 5.))
        // ref = torch.tensor([[10., 20., 50., 60.], [0., 0., 8., 4.]])
        // prop = torch.tensor([[12., 18., 48., 70.], [1., 1., 9., 3.]])
        // c.encode_single(ref, prop)
        // tensor([[ 0.0000000, -0.7692308,  0.5268028, -1.3118212],
        //         [-1.2500000,  0.0000000,  0.0000000,  3.4657359]])
        let d = dev();
        let coder = BoxCoder::new([10.0, 10.0, 5.0, 5.0]);
        let reference =
            Tensor::<2>::from_floats([[10.0, 20.0, 50.0, 60.0], [0.0, 0.0, 8.0, 4.0]], &d);
        let proposals =
            Tensor::<2>::from_floats([[12.0, 18.0, 48.0, 70.0], [1.0, 1.0, 9.0, 3.0]], &d);
        let t = coder
            .encode_single(reference.clone(), proposals.clone())
            .unwrap();
        close(
            &read(t.clone()),
            &[
                0.0,
                -0.769_230_8,
                0.526_802_8,
                -1.311_821_2,
                -1.25,
                0.0,
                0.0,
                3.465_736,
            ],
        );
        // c.decode_single(t, prop) gives back ref.
        close(
            &read(coder.decode_single(t, proposals).unwrap()),
            &read(reference),
        );
    }

    #[test]
    fn decode_clamps_the_size_deltas() {
        // BoxCoder((1., 1., 1., 1.), bbox_xform_clip=1.0).decode_single(
        //     torch.tensor([[0.5, -0.25, 3.0, -1.0, 0., 0., 0., 0.]]),
        //     torch.tensor([[0., 0., 10., 20.]]))
        // tensor([[-3.5914087,  1.3212056, 23.5914078,  8.6787949,  0.0000000,  0.0000000,
        //          10.0000000, 20.0000000]])
        let d = dev();
        let coder = BoxCoder::new([1.0; 4]).with_clip(1.0);
        let codes = Tensor::<2>::from_floats([[0.5, -0.25, 3.0, -1.0, 0.0, 0.0, 0.0, 0.0]], &d);
        let boxes = Tensor::<2>::from_floats([[0.0, 0.0, 10.0, 20.0]], &d);
        let y = coder.decode_single(codes, boxes).unwrap();
        close(
            &read(y),
            &[
                -3.591_408_7,
                1.321_205_6,
                23.591_408,
                8.678_795,
                0.0,
                0.0,
                10.0,
                20.0,
            ],
        );
        let bad = coder.decode_single(
            Tensor::<2>::zeros([2, 6], &d),
            Tensor::<2>::zeros([2, 4], &d),
        );
        assert!(bad.unwrap_err().to_string().contains("[2, 6]"));
    }
}
