//! Box maths as `torchvision.ops` defines it, as tensor ops (differentiable
//! on an autodiff device).

use std::f64::consts::PI;

use burn::tensor::Tensor;

use crate::DetectError;

/// A box layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoxFormat {
    /// Corners `(x1, y1, x2, y2)`.
    Xyxy,
    /// Corner and size `(x1, y1, w, h)`.
    Xywh,
    /// Centre and size `(cx, cy, w, h)`.
    Cxcywh,
}

impl BoxFormat {
    /// By torchvision's name.
    pub fn from_name(name: &str) -> Result<Self, DetectError> {
        match name {
            "xyxy" => Ok(Self::Xyxy),
            "xywh" => Ok(Self::Xywh),
            "cxcywh" => Ok(Self::Cxcywh),
            other => Err(DetectError::new(
                "box_convert",
                format!("format `{other}`, expected xyxy, xywh or cxcywh"),
            )),
        }
    }
}

/// The four columns of `[N, 4]` boxes, each `[N, 1]`.
fn columns(boxes: &Tensor<2>) -> [Tensor<2>; 4] {
    let n = boxes.dims()[0];
    [0, 1, 2, 3].map(|i| boxes.clone().slice([0..n, i..i + 1]))
}

fn check(op: &'static str, boxes: &Tensor<2>) -> Result<(), DetectError> {
    match boxes.dims() {
        [_, 4] => Ok(()),
        d => Err(DetectError::new(
            op,
            format!("boxes of shape {d:?}, expected [N, 4]"),
        )),
    }
}

/// `ops.box_convert`: `boxes [N, 4]` from one layout to another.
pub fn box_convert(
    boxes: Tensor<2>,
    from: BoxFormat,
    to: BoxFormat,
) -> Result<Tensor<2>, DetectError> {
    check("box_convert", &boxes)?;
    if from == to {
        return Ok(boxes);
    }
    let [a, b, c, d] = columns(&boxes);
    let [x1, y1, x2, y2] = match from {
        BoxFormat::Xyxy => [a, b, c, d],
        BoxFormat::Xywh => [a.clone(), b.clone(), a + c, b + d],
        BoxFormat::Cxcywh => {
            let (hw, hh) = (c.mul_scalar(0.5), d.mul_scalar(0.5));
            [
                a.clone() - hw.clone(),
                b.clone() - hh.clone(),
                a + hw,
                b + hh,
            ]
        }
    };
    let out = match to {
        BoxFormat::Xyxy => [x1, y1, x2, y2],
        BoxFormat::Xywh => [x1.clone(), y1.clone(), x2 - x1, y2 - y1],
        BoxFormat::Cxcywh => [
            (x1.clone() + x2.clone()).mul_scalar(0.5),
            (y1.clone() + y2.clone()).mul_scalar(0.5),
            x2 - x1,
            y2 - y1,
        ],
    };
    Ok(Tensor::cat(out.to_vec(), 1))
}

/// `ops.box_area` of `xyxy` boxes, `[N]`.
pub fn box_area(boxes: Tensor<2>) -> Result<Tensor<1>, DetectError> {
    check("box_area", &boxes)?;
    let [x1, y1, x2, y2] = columns(&boxes);
    Ok(((x2 - x1) * (y2 - y1)).squeeze_dim(1))
}

/// `ops.clip_boxes_to_image`: `xyxy` boxes clamped to `[0, width] x [0, height]`.
pub fn clip_boxes_to_image(
    boxes: Tensor<2>,
    height: usize,
    width: usize,
) -> Result<Tensor<2>, DetectError> {
    check("clip_boxes_to_image", &boxes)?;
    let [x1, y1, x2, y2] = columns(&boxes);
    let (w, h) = (width as f64, height as f64);
    Ok(Tensor::cat(
        vec![
            x1.clamp(0.0, w),
            y1.clamp(0.0, h),
            x2.clamp(0.0, w),
            y2.clamp(0.0, h),
        ],
        1,
    ))
}

/// `[N, M]` zeros for a pairwise function of `N` and `M` boxes when either
/// set is empty, as torchvision returns (no tensor op runs on the empty sets).
fn empty_pairs(
    op: &'static str,
    boxes1: &Tensor<2>,
    boxes2: &Tensor<2>,
) -> Result<Option<Tensor<2>>, DetectError> {
    check(op, boxes1)?;
    check(op, boxes2)?;
    let (n, m) = (boxes1.dims()[0], boxes2.dims()[0]);
    Ok((n == 0 || m == 0).then(|| Tensor::zeros([n, m], &boxes1.device())))
}

/// Pairwise geometry of `[N, 4]` and `[M, 4]` `xyxy` boxes, every term `[N, M]`.
struct Pairs {
    inter: Tensor<2>,
    union: Tensor<2>,
    /// The enclosing box's width and height.
    enclose_w: Tensor<2>,
    enclose_h: Tensor<2>,
    /// Squared distance of the centres.
    centres: Tensor<2>,
    /// Width / height of the first and second box of each pair, `[N, M]`.
    size1: (Tensor<2>, Tensor<2>),
    size2: (Tensor<2>, Tensor<2>),
}

fn pairs(op: &'static str, boxes1: &Tensor<2>, boxes2: &Tensor<2>) -> Result<Pairs, DetectError> {
    check(op, boxes1)?;
    check(op, boxes2)?;
    // Every term is computed on full `[N, M]` copies, not by broadcasting
    // `[N, 1]` against `[1, M]`: on wgpu, burn 0.22's fused element-wise
    // kernels vectorise such a broadcast wrongly when N is 1 and M a
    // multiple of 4 on an autodiff device (only the first M/4 outputs were
    // written, with values of other pairs: DIoU -20 for -0.41); flex and
    // ndarray were right. `tests/tests/boxes_cross_device.rs` keeps that case.
    let (n, m) = (boxes1.dims()[0], boxes2.dims()[0]);
    let [a1, b1, c1, d1] = columns(boxes1).map(|x| x.repeat_dim(1, m));
    let t = |x: Tensor<2>| x.transpose().repeat_dim(0, n);
    let [a2, b2, c2, d2] = columns(boxes2).map(t);
    let (w1, h1) = (c1.clone() - a1.clone(), d1.clone() - b1.clone());
    let (w2, h2) = (c2.clone() - a2.clone(), d2.clone() - b2.clone());
    let area1 = w1.clone() * h1.clone();
    let area2 = w2.clone() * h2.clone();
    let iw = (c1.clone().min_pair(c2.clone()) - a1.clone().max_pair(a2.clone())).clamp_min(0.0);
    let ih = (d1.clone().min_pair(d2.clone()) - b1.clone().max_pair(b2.clone())).clamp_min(0.0);
    let inter = iw * ih;
    let union = area1 + area2 - inter.clone();
    let enclose_w =
        (c1.clone().max_pair(c2.clone()) - a1.clone().min_pair(a2.clone())).clamp_min(0.0);
    let enclose_h =
        (d1.clone().max_pair(d2.clone()) - b1.clone().min_pair(b2.clone())).clamp_min(0.0);
    let dx = (a1 + c1).mul_scalar(0.5) - (a2 + c2).mul_scalar(0.5);
    let dy = (b1 + d1).mul_scalar(0.5) - (b2 + d2).mul_scalar(0.5);
    Ok(Pairs {
        inter,
        union,
        enclose_w,
        enclose_h,
        centres: dx.powi_scalar(2) + dy.powi_scalar(2),
        size1: (w1, h1),
        size2: (w2, h2),
    })
}

/// `ops.box_iou`: `[N, M]` intersection over union.
pub fn box_iou(boxes1: Tensor<2>, boxes2: Tensor<2>) -> Result<Tensor<2>, DetectError> {
    if let Some(empty) = empty_pairs("box_iou", &boxes1, &boxes2)? {
        return Ok(empty);
    }
    let p = pairs("box_iou", &boxes1, &boxes2)?;
    Ok(p.inter / p.union)
}

/// `ops.generalized_box_iou`: IoU minus the share of the enclosing box
/// outside the union.
pub fn generalized_box_iou(boxes1: Tensor<2>, boxes2: Tensor<2>) -> Result<Tensor<2>, DetectError> {
    if let Some(empty) = empty_pairs("generalized_box_iou", &boxes1, &boxes2)? {
        return Ok(empty);
    }
    let p = pairs("generalized_box_iou", &boxes1, &boxes2)?;
    let iou = p.inter / p.union.clone();
    let area = p.enclose_w * p.enclose_h;
    Ok(iou - (area.clone() - p.union) / area)
}

/// `ops.distance_box_iou`: IoU minus the squared centre distance over the
/// squared diagonal of the enclosing box (plus `eps`).
pub fn distance_box_iou(
    boxes1: Tensor<2>,
    boxes2: Tensor<2>,
    eps: f64,
) -> Result<Tensor<2>, DetectError> {
    if let Some(empty) = empty_pairs("distance_box_iou", &boxes1, &boxes2)? {
        return Ok(empty);
    }
    let p = pairs("distance_box_iou", &boxes1, &boxes2)?;
    Ok(diou(&p, eps).0)
}

/// DIoU and IoU of `p`.
fn diou(p: &Pairs, eps: f64) -> (Tensor<2>, Tensor<2>) {
    let iou = p.inter.clone() / p.union.clone();
    let diagonal =
        (p.enclose_w.clone().powi_scalar(2) + p.enclose_h.clone().powi_scalar(2)).add_scalar(eps);
    (iou.clone() - p.centres.clone() / diagonal, iou)
}

/// `atan(w / h)`, 0 for an empty box and `pi / 2` for a zero height (no NaN).
fn aspect_angle(w: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
    (w / h.clamp_min(1e-20)).atan()
}

/// CIoU's `v = 4 / pi^2 (atan(w_g / h_g) - atan(w / h))^2` and its `alpha =
/// v / (1 - iou + v + eps)`, the latter without gradient (0 where the
/// denominator is 0).
fn ciou_terms(
    size1: (Tensor<2>, Tensor<2>),
    size2: (Tensor<2>, Tensor<2>),
    iou: Tensor<2>,
    eps: f64,
) -> (Tensor<2>, Tensor<2>) {
    let v = (aspect_angle(size2.0, size2.1) - aspect_angle(size1.0, size1.1))
        .powi_scalar(2)
        .mul_scalar(4.0 / (PI * PI));
    let vd = v.clone().detach();
    let denom = iou.detach().neg().add_scalar(1.0 + eps) + vd.clone();
    let zero = denom.clone().equal_elem(0.0);
    let alpha = (vd / denom.mask_fill(zero.clone(), 1.0)).mask_fill(zero, 0.0);
    (v, alpha)
}

/// `ops.complete_box_iou`: DIoU minus `alpha v` (aspect-ratio consistency).
pub fn complete_box_iou(
    boxes1: Tensor<2>,
    boxes2: Tensor<2>,
    eps: f64,
) -> Result<Tensor<2>, DetectError> {
    if let Some(empty) = empty_pairs("complete_box_iou", &boxes1, &boxes2)? {
        return Ok(empty);
    }
    let p = pairs("complete_box_iou", &boxes1, &boxes2)?;
    let (d, iou) = diou(&p, eps);
    let (v, alpha) = ciou_terms(p.size1, p.size2, iou, eps);
    Ok(d - alpha * v)
}

fn check_paired(
    op: &'static str,
    boxes1: &Tensor<2>,
    boxes2: &Tensor<2>,
) -> Result<(), DetectError> {
    check(op, boxes1)?;
    check(op, boxes2)?;
    if boxes1.dims() != boxes2.dims() {
        return Err(DetectError::new(
            op,
            format!(
                "{} boxes and {} targets, expected as many",
                boxes1.dims()[0],
                boxes2.dims()[0]
            ),
        ));
    }
    Ok(())
}

/// `a / b`, 0 where `b` is 0 (an empty box against itself with `eps = 0`):
/// the losses never return NaN.
fn safe_div(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let zero = b.clone().equal_elem(0.0);
    (a / b.mask_fill(zero.clone(), 1.0)).mask_fill(zero, 0.0)
}

/// Element-wise geometry of paired boxes, torchvision's `_loss_inter_union`
/// and the enclosing box, every term `[N, 1]`.
fn paired(boxes1: &Tensor<2>, boxes2: &Tensor<2>, eps: f64) -> [Tensor<2>; 5] {
    let [x1, y1, x2, y2] = columns(boxes1);
    let [x1g, y1g, x2g, y2g] = columns(boxes2);
    let iw = (x2.clone().min_pair(x2g.clone()) - x1.clone().max_pair(x1g.clone())).clamp_min(0.0);
    let ih = (y2.clone().min_pair(y2g.clone()) - y1.clone().max_pair(y1g.clone())).clamp_min(0.0);
    let inter = iw * ih;
    let union = (x2.clone() - x1.clone()) * (y2.clone() - y1.clone())
        + (x2g.clone() - x1g.clone()) * (y2g.clone() - y1g.clone())
        - inter.clone();
    let iou = safe_div(inter, union.clone().add_scalar(eps));
    let cw = x2.clone().max_pair(x2g.clone()) - x1.clone().min_pair(x1g.clone());
    let ch = y2.clone().max_pair(y2g.clone()) - y1.clone().min_pair(y1g.clone());
    let dx = (x1 + x2).mul_scalar(0.5) - (x1g + x2g).mul_scalar(0.5);
    let dy = (y1 + y2).mul_scalar(0.5) - (y1g + y2g).mul_scalar(0.5);
    [iou, union, cw, ch, dx.powi_scalar(2) + dy.powi_scalar(2)]
}

/// `ops.generalized_box_iou_loss` per pair, `[N]` (`1 - GIoU`, `eps` in both divisions).
pub fn giou_loss(boxes1: Tensor<2>, boxes2: Tensor<2>, eps: f64) -> Result<Tensor<1>, DetectError> {
    check_paired("giou_loss", &boxes1, &boxes2)?;
    let [iou, union, cw, ch, _] = paired(&boxes1, &boxes2, eps);
    let area = cw * ch;
    let giou = iou - safe_div(area.clone() - union, area.add_scalar(eps));
    Ok(giou.neg().add_scalar(1.0).squeeze_dim(1))
}

/// `1 - IoU + d^2 / c^2` and the IoU, `[N, 1]` each.
fn diou_loss_terms(boxes1: &Tensor<2>, boxes2: &Tensor<2>, eps: f64) -> (Tensor<2>, Tensor<2>) {
    let [iou, _, cw, ch, centres] = paired(boxes1, boxes2, eps);
    let diagonal = (cw.powi_scalar(2) + ch.powi_scalar(2)).add_scalar(eps);
    (
        iou.clone().neg().add_scalar(1.0) + safe_div(centres, diagonal),
        iou,
    )
}

/// `ops.distance_box_iou_loss` per pair, `[N]`.
pub fn diou_loss(boxes1: Tensor<2>, boxes2: Tensor<2>, eps: f64) -> Result<Tensor<1>, DetectError> {
    check_paired("diou_loss", &boxes1, &boxes2)?;
    Ok(diou_loss_terms(&boxes1, &boxes2, eps).0.squeeze_dim(1))
}

/// `ops.complete_box_iou_loss` per pair, `[N]`: the DIoU loss (its IoU with
/// torchvision's fixed `eps = 1e-7`) plus `alpha v`, `eps` inside alpha.
pub fn ciou_loss(boxes1: Tensor<2>, boxes2: Tensor<2>, eps: f64) -> Result<Tensor<1>, DetectError> {
    check_paired("ciou_loss", &boxes1, &boxes2)?;
    let (loss, iou) = diou_loss_terms(&boxes1, &boxes2, 1e-7);
    let [x1, y1, x2, y2] = columns(&boxes1);
    let [x1g, y1g, x2g, y2g] = columns(&boxes2);
    let (v, alpha) = ciou_terms((x2 - x1, y2 - y1), (x2g - x1g, y2g - y1g), iou, eps);
    Ok((loss + alpha * v).squeeze_dim(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_and_gradients_stay_finite_for_identical_and_empty_boxes() {
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        // Identical boxes, a zero-area box against itself, a point against a box.
        let a = Tensor::<2>::from_floats(
            [
                [1.0, 1.0, 3.0, 4.0],
                [2.0, 2.0, 2.0, 2.0],
                [5.0, 5.0, 5.0, 5.0],
            ],
            &device,
        )
        .require_grad();
        let b = Tensor::<2>::from_floats(
            [
                [1.0, 1.0, 3.0, 4.0],
                [2.0, 2.0, 2.0, 2.0],
                [4.0, 4.0, 6.0, 7.0],
            ],
            &device,
        );
        for (name, f) in [
            ("giou", giou_loss as fn(_, _, _) -> _),
            ("diou", diou_loss),
            ("ciou", ciou_loss),
        ] {
            let loss = f(a.clone(), b.clone(), 0.0).unwrap();
            let v: Vec<f32> = loss.clone().into_data().try_to_vec().unwrap();
            assert!(v.iter().all(|x| x.is_finite()), "{name}: {v:?}");
            // Identical boxes: loss 0, even with eps = 0.
            assert!(v[0].abs() < 1e-6, "{name}: {v:?}");
            let grads = loss.sum().backward();
            let g: Vec<f32> = a.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
            assert!(g.iter().all(|x| x.is_finite()), "{name} grad: {g:?}");
        }
        // No boxes: empty results, not errors.
        let none = Tensor::<2>::zeros([0, 4], &device);
        assert_eq!(box_iou(none.clone(), b.clone()).unwrap().dims(), [0, 3]);
        assert_eq!(
            complete_box_iou(b.clone(), none.clone(), 1e-7)
                .unwrap()
                .dims(),
            [3, 0]
        );
        assert_eq!(
            giou_loss(none.clone(), none.clone(), 1e-7).unwrap().dims(),
            [0]
        );
        let e = giou_loss(a.clone(), b.slice([0..2, 0..4]), 1e-7).unwrap_err();
        assert!(e.to_string().contains("3 boxes and 2 targets"), "{e}");
        let e = box_convert(
            Tensor::zeros([2, 3], &device),
            BoxFormat::Xyxy,
            BoxFormat::Xywh,
        )
        .unwrap_err();
        assert!(e.to_string().contains("[2, 3]"), "{e}");
    }
}
