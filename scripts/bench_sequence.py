#!/usr/bin/env python3
"""Times the course's language model in PyTorch on this machine, the work of
`cargo xtask bench sequence`: d2l's `RNNModel` (one-hot input, `nn.LSTM` /
`nn.GRU`, `Linear` on the time-major outputs) with vocabulary 28, 256
hidden units, batch 32, 35 steps; one training step is `train_epoch_ch8`'s
(forward, mean cross-entropy, backward, d2l's `grad_clipping` at 1, SGD at
lr 1, the state carried over and detached); generation is d2l's
`predict_ch8` of 500 characters from a 3-character prefix.

    python3 scripts/bench_compare.py sequence --rounds 5 --runs 5
"""
import os
import sys

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import median_ms  # noqa: E402

V, H, N, T = 28, 256, 32, 35


class RNNModel(nn.Module):
    def __init__(self, rnn, vocab_size):
        super().__init__()
        self.rnn, self.vocab_size = rnn, vocab_size
        self.linear = nn.Linear(rnn.hidden_size, vocab_size)

    def forward(self, inputs, state):
        x = F.one_hot(inputs.T.long(), self.vocab_size).to(torch.float32)
        y, state = self.rnn(x, state)
        return self.linear(y.reshape((-1, y.shape[-1]))), state

    def begin_state(self, batch_size):
        z = torch.zeros((self.rnn.num_layers, batch_size, self.rnn.hidden_size))
        return (z, z.clone()) if isinstance(self.rnn, nn.LSTM) else z


def grad_clipping(net, theta):
    params = [p for p in net.parameters() if p.requires_grad]
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
    if norm > theta:
        for p in params:
            p.grad[:] *= theta / norm


def measure(runs):
    torch.manual_seed(0)
    results = {}
    idx = torch.arange(N * T)
    x = ((idx * 7) % V).reshape(N, T)
    y = ((idx * 7 + 1) % V).reshape(N, T)
    for name, cell in [("lstm", nn.LSTM), ("gru", nn.GRU)]:
        net = RNNModel(cell(V, H), V)
        opt = torch.optim.SGD(net.parameters(), lr=1.0)
        state = [net.begin_state(N)]

        def step():
            s = state[0]
            s = tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach()
            y_hat, s = net(x, s)
            loss = F.cross_entropy(y_hat, y.T.reshape(-1)).mean()
            opt.zero_grad()
            loss.backward()
            grad_clipping(net, 1.0)
            opt.step()
            state[0] = s

        results[f"{name}_lm_train_step_v28_h256_b32_t35"] = median_ms(step, 2, runs)
        if name == "lstm":
            def generate():
                with torch.no_grad():
                    s = net.begin_state(1)
                    outputs = [3]
                    for t in [5, 1]:
                        _, s = net(torch.tensor([[outputs[-1]]]), s)
                        outputs.append(t)
                    for _ in range(500):
                        o, s = net(torch.tensor([[outputs[-1]]]), s)
                        outputs.append(int(o.argmax(dim=1).reshape(1)))
                return outputs

            results["lstm_lm_generate_500"] = median_ms(generate, 1, runs)
    return results


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for k, v in measure(5).items():
        print(f"{k}: {v:.2f} ms")
