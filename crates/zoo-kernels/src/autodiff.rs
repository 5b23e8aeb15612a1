//! `ZooKernels` for `Autodiff<Flex>`: the flex forward kernels, recorded on
//! burn's autodiff graph with hand-written backward steps.

use std::sync::Arc;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Flex};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, ConvTransposeOptions, MaxPoolOptions};

use crate::cpu::{elementwise, norm, pool};
use crate::flex::{self as fx, data, dense, dims, tensor};
use crate::{Bias, ZooKernels};

type Ad<C> = Autodiff<Flex, C>;

/// The parents' node ids and the output gradient of a backward step.
fn take<S, const N: usize>(
    ops: &Ops<S, N>,
    grads: &mut Gradients,
) -> ([Option<NodeId>; N], FlexTensor) {
    let ids = std::array::from_fn(|i| ops.parents[i].as_ref().map(|n| n.id));
    (ids, dense(grads.consume::<Flex>(&ops.node)))
}

/// Registers each gradient its parent asked for.
fn give<const N: usize>(
    grads: &mut Gradients,
    ids: [Option<NodeId>; N],
    values: [Option<FlexTensor>; N],
) {
    for (id, g) in ids.into_iter().zip(values) {
        if let (Some(id), Some(g)) = (id, g) {
            grads.register::<Flex>(id, g);
        }
    }
}

/// `out` on the autodiff graph: recorded under `step` (keeping `state`) when
/// a parent is tracked, plain otherwise.
fn record<C: CheckpointStrategy, T: Backward<Flex, N>, const N: usize>(
    step: T,
    nodes: [NodeGuard; N],
    state: T::State,
    out: FlexTensor,
) -> FloatTensor<Ad<C>> {
    match step.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(state, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}

// ------------------------------------------------------------- recurrence

#[derive(Clone, Debug)]
struct RecurrentState {
    w: FlexTensor,
    saved: Arc<crate::cpu::recurrent::Forward>,
    dims: crate::cpu::recurrent::Dims,
    cell: usize,
    reverse: bool,
}

/// Backpropagation through time of one direction of a recurrent layer,
/// parents `[gi, w_hh, b_hh, h0, c0]`.
#[derive(Debug)]
struct RecurrentBackward;

impl Backward<Flex, 5> for RecurrentBackward {
    type State = RecurrentState;
    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        use crate::cpu::recurrent::{Cell, backward};
        let (ids, dy) = take(&ops, grads);
        let s = &ops.state;
        let cell = Cell::from_code(s.cell);
        let d = s.dims;
        let g = backward(cell, d, data(&s.w), &s.saved, data(&dy), s.reverse);
        let gw = cell.gates() * d.h;
        let dc0 = if cell == Cell::Lstm {
            g.dc0
        } else {
            vec![0.0; d.n * d.h]
        };
        let values = [
            Some(tensor(g.dgi, &[d.t, d.n, gw])),
            Some(tensor(g.dw, &[gw, d.h])),
            Some(tensor(g.db, &[gw])),
            Some(tensor(g.dh0, &[d.n, d.h])),
            Some(tensor(dc0, &[d.n, d.h])),
        ];
        give(grads, ids, values);
    }
}

// ------------------------------------------------- conv2d, conv_transpose2d

/// A convolution (`T = false`) or transposed one (`T = true`) computed by
/// `forward` and recorded with the parents it has (bias or not).
fn conv_like<C: CheckpointStrategy, O, const T: bool>(
    x: FloatTensor<Ad<C>>,
    weight: FloatTensor<Ad<C>>,
    bias: Bias<Ad<C>>,
    options: O,
    forward: fn(&FlexTensor, &FlexTensor, Option<&FlexTensor>, &O) -> FlexTensor,
) -> FloatTensor<Ad<C>>
where
    ConvStep<T, 2>: Backward<Flex, 2, State = ConvState<O>>,
    ConvStep<T, 3>: Backward<Flex, 3, State = ConvState<O>>,
{
    let xs = dense(x.primitive().clone());
    let ws = dense(weight.primitive().clone());
    match bias.into_option() {
        Some(b) => {
            let out = forward(&xs, &ws, Some(&dense(b.primitive().clone())), &options);
            let state = ConvState {
                x: xs,
                w: ws,
                options,
            };
            let nodes = [x.node(), weight.node(), b.node()];
            record::<C, _, 3>(ConvStep::<T, 3>, nodes, state, out)
        }
        None => {
            let out = forward(&xs, &ws, None, &options);
            let state = ConvState {
                x: xs,
                w: ws,
                options,
            };
            record::<C, _, 2>(ConvStep::<T, 2>, [x.node(), weight.node()], state, out)
        }
    }
}

#[derive(Clone, Debug)]
struct ConvState<O> {
    x: FlexTensor,
    w: FlexTensor,
    options: O,
}

/// The backward step of a convolution (`T = false`) or a transposed one
/// (`T = true`) with parents `[x, w]` or `[x, w, bias]` (`N` = 2 or 3).
#[derive(Debug)]
struct ConvStep<const T: bool, const N: usize>;

impl<const N: usize> Backward<Flex, N> for ConvStep<false, N> {
    type State = ConvState<ConvOptions<2>>;
    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (ids, dy) = take(&ops, grads);
        let s = &ops.state;
        let want = std::array::from_fn(|i| i < N && ids[i].is_some());
        let mut g = fx::conv2d_backward(&s.x, &s.w, &dy, &s.options, want);
        give(grads, ids, std::array::from_fn(|i| g[i].take()));
    }
}

impl<const N: usize> Backward<Flex, N> for ConvStep<true, N> {
    type State = ConvState<ConvTransposeOptions<2>>;
    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (ids, dy) = take(&ops, grads);
        let s = &ops.state;
        let want = std::array::from_fn(|i| i < N && ids[i].is_some());
        let mut g = fx::conv_t_backward(&s.x, &s.w, &dy, &s.options, want);
        give(grads, ids, std::array::from_fn(|i| g[i].take()));
    }
}

// ----------------------------------------------------------------- pools

#[derive(Clone, Debug)]
struct MaxState {
    geometry: pool::Pool,
    x_dims: [usize; 4],
    indices: Arc<Vec<u32>>,
}

#[derive(Debug)]
struct MaxBackward;

impl Backward<Flex, 1> for MaxBackward {
    type State = MaxState;
    fn backward(self, ops: Ops<MaxState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (ids, dy) = take(&ops, grads);
        let s = &ops.state;
        let mut dx = vec![0.0f32; s.x_dims.iter().product()];
        pool::max_pool_backward(&s.geometry, data(&dy), &s.indices, &mut dx);
        give(grads, ids, [Some(tensor(dx, &s.x_dims))]);
    }
}

#[derive(Clone, Debug)]
struct AvgState {
    x_dims: [usize; 4],
    options: AvgPoolOptions<2>,
}

#[derive(Debug)]
struct AvgBackward;

impl Backward<Flex, 1> for AvgBackward {
    type State = AvgState;
    fn backward(self, ops: Ops<AvgState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (ids, dy) = take(&ops, grads);
        let s = &ops.state;
        let g = fx::avg_geometry(s.x_dims, &s.options);
        let mut dx = vec![0.0f32; s.x_dims.iter().product()];
        pool::avg_pool_backward(&g, s.options.count_include_pad, data(&dy), &mut dx);
        give(grads, ids, [Some(tensor(dx, &s.x_dims))]);
    }
}

#[derive(Debug)]
struct AdaptiveBackward;

impl Backward<Flex, 1> for AdaptiveBackward {
    type State = [usize; 4];
    fn backward(self, ops: Ops<[usize; 4], 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (ids, dy) = take(&ops, grads);
        let [n, c, h, w] = ops.state;
        let [_, _, oh, ow]: [usize; 4] = dims(&dy);
        let mut dx = vec![0.0f32; n * c * h * w];
        pool::adaptive_avg_pool_backward(h, w, oh, ow, data(&dy), &mut dx);
        give(grads, ids, [Some(tensor(dx, &ops.state))]);
    }
}

// ------------------------------------------------------------ batch norm

#[derive(Clone, Debug)]
struct BnState {
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    mean: FlexTensor,
    var: FlexTensor,
    eps: f64,
    relu: bool,
}

#[derive(Debug)]
struct BnBackward;

impl Backward<Flex, 3> for BnBackward {
    type State = BnState;
    fn backward(self, ops: Ops<BnState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (ids, dy) = take(&ops, grads);
        let s = &ops.state;
        let [n, c, sp]: [usize; 3] = dims(&s.x);
        let (dx, dgamma, dbeta) = norm::backward(
            data(&s.x),
            data(&dy),
            n,
            c,
            sp,
            data(&s.mean),
            data(&s.var),
            data(&s.gamma),
            data(&s.beta),
            s.eps,
            s.relu,
        );
        give(
            grads,
            ids,
            [
                Some(tensor(dx, &[n, c, sp])),
                Some(tensor(dgamma, &[c])),
                Some(tensor(dbeta, &[c])),
            ],
        );
    }
}

#[derive(Debug)]
struct SigmoidBackward;

impl Backward<Flex, 1> for SigmoidBackward {
    type State = FlexTensor;
    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (ids, dy) = take(&ops, grads);
        let y = &ops.state;
        let mut dx = vec![0.0f32; data(y).len()];
        elementwise::sigmoid_backward(data(y), data(&dy), &mut dx);
        let shape: Vec<usize> = y.layout().shape().iter().copied().collect();
        give(grads, ids, [Some(tensor(dx, &shape))]);
    }
}

impl<C: CheckpointStrategy> ZooKernels for Ad<C> {
    fn zoo_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let y = fx::sigmoid_forward(&dense(x.primitive().clone()));
        record::<C, _, 1>(SigmoidBackward, [x.node()], y.clone(), y)
    }

    fn zoo_recurrent(
        gi: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        cell: usize,
        reverse: bool,
    ) -> FloatTensor<Self> {
        let w = dense(w_hh.primitive().clone());
        let (out, saved, d) = fx::recurrent_forward(
            &dense(gi.primitive().clone()),
            &w,
            &dense(b_hh.primitive().clone()),
            &dense(h0.primitive().clone()),
            &dense(c0.primitive().clone()),
            cell,
            reverse,
        );
        let state = RecurrentState {
            w,
            saved: Arc::new(saved),
            dims: d,
            cell,
            reverse,
        };
        let nodes = [gi.node(), w_hh.node(), b_hh.node(), h0.node(), c0.node()];
        record::<C, _, 5>(RecurrentBackward, nodes, state, out)
    }

    fn zoo_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Bias<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        conv_like::<C, _, false>(x, weight, bias, options, fx::conv2d_forward)
    }

    fn zoo_conv2d_bn(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Bias<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        residual: Bias<Self>,
        options: ConvOptions<2>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        // Composed from the recorded ops, so every input has its gradient
        // (the crate routes autodiff tensors here only through the trait).
        use burn::backend::ops::{ActivationOps, FloatTensorOps, ModuleOps};
        let y = Self::zoo_conv2d(x, weight, bias, options);
        let y = <Self as ModuleOps<Self>>::batch_norm(y, gamma, beta, mean, variance, epsilon);
        let y = match residual.into_option() {
            Some(r) => Self::float_add(y, r),
            None => y,
        };
        if relu { Self::relu(y) } else { y }
    }

    fn zoo_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Bias<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        conv_like::<C, _, true>(x, weight, bias, options, fx::conv_t_forward)
    }

    fn zoo_max_pool2d(x: FloatTensor<Self>, options: MaxPoolOptions<2>) -> FloatTensor<Self> {
        match MaxBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let xs = dense(x.into_primitive());
                let x_dims = dims(&xs);
                let (out, idx) = fx::max_pool_forward(&xs, &options, true);
                let state = MaxState {
                    geometry: fx::max_geometry(x_dims, &options),
                    x_dims,
                    indices: Arc::new(idx.expect("indices asked for")),
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(fx::max_pool_forward(&dense(x.into_primitive()), &options, false).0)
            }
        }
    }

    fn zoo_avg_pool2d(x: FloatTensor<Self>, options: AvgPoolOptions<2>) -> FloatTensor<Self> {
        let xs = dense(x.primitive().clone());
        let out = fx::avg_pool_forward(&xs, &options);
        let state = AvgState {
            x_dims: dims(&xs),
            options,
        };
        record::<C, _, 1>(AvgBackward, [x.node()], state, out)
    }

    fn zoo_adaptive_avg_pool2d(x: FloatTensor<Self>, output_size: [usize; 2]) -> FloatTensor<Self> {
        let xs = dense(x.primitive().clone());
        let out = fx::adaptive_forward(&xs, output_size);
        record::<C, _, 1>(AdaptiveBackward, [x.node()], dims(&xs), out)
    }

    fn zoo_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let xs = dense(x.primitive().clone());
        let gs = dense(gamma.primitive().clone());
        let bs = dense(beta.primitive().clone());
        let (y, mean, var) = fx::bn_train_forward(&xs, &gs, &bs, epsilon, relu);
        let state = BnState {
            x: xs,
            gamma: gs,
            beta: bs,
            mean: mean.clone(),
            var: var.clone(),
            eps: epsilon,
            relu,
        };
        let nodes = [x.node(), gamma.node(), beta.node()];
        let out = record::<C, _, 3>(BnBackward, nodes, state, y);
        (out, Self::from_inner(mean), Self::from_inner(var))
    }

    fn zoo_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        // burn's composed op: gradients for all five inputs (the crate
        // routes evaluation under autodiff here only through the trait).
        use burn::backend::ops::{ActivationOps, ModuleOps};
        let y = <Self as ModuleOps<Self>>::batch_norm(x, gamma, beta, mean, variance, epsilon);
        if relu { Self::relu(y) } else { y }
    }
}
