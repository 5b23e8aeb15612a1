//! The forward convolutions of ResNet-18 / ResNet-50 / fcn_resnet50 on the
//! zoo's kernels, layer by layer (median of `runs`), with each network's
//! total: where a model's convolution time goes.
//!
//!     cargo run -p zoo-kernels --example conv_shapes -- [r18b128|r18b8|r50b8|r50b1|fcn] [runs]
//!
//! `CPU=1` times the CPU time of all threads instead of the wall clock
//! (steadier when other work shares the machine; with one thread,
//! `RAYON_NUM_THREADS=1`, it is the work itself).
use std::time::Instant;
use zoo_kernels::cpu::conv::{Batch, Epilogue, Window, forward};

/// (count, n, cin, h, cout, k, stride, pad)
type Layer = (usize, usize, usize, usize, usize, usize, usize, usize);

fn resnet18(n: usize, side: usize) -> Vec<Layer> {
    let s = side / 4; // after the stem and the pool
    vec![
        (1, n, 3, side, 64, 7, 2, 3),
        (4, n, 64, s, 64, 3, 1, 1),
        (1, n, 64, s, 128, 3, 2, 1),
        (3, n, 128, s / 2, 128, 3, 1, 1),
        (1, n, 64, s, 128, 1, 2, 0),
        (1, n, 128, s / 2, 256, 3, 2, 1),
        (3, n, 256, s / 4, 256, 3, 1, 1),
        (1, n, 128, s / 2, 256, 1, 2, 0),
        (1, n, 256, s / 4, 512, 3, 2, 1),
        (3, n, 512, s / 8, 512, 3, 1, 1),
        (1, n, 256, s / 4, 512, 1, 2, 0),
    ]
}

fn resnet50(n: usize, side: usize) -> Vec<Layer> {
    let s = side / 4;
    let mut v = vec![(1, n, 3, side, 64, 7, 2, 3)];
    let mut cin = 64;
    let mut hw = s;
    for (i, (blocks, planes)) in [(3, 64), (4, 128), (6, 256), (3, 512)]
        .into_iter()
        .enumerate()
    {
        let stride = if i == 0 { 1 } else { 2 };
        // first block
        v.push((1, n, cin, hw, planes, 1, 1, 0));
        v.push((1, n, planes, hw, planes, 3, stride, 1));
        let o = hw / stride;
        v.push((1, n, planes, o, 4 * planes, 1, 1, 0));
        v.push((1, n, cin, hw, 4 * planes, 1, stride, 0));
        hw = o;
        cin = 4 * planes;
        v.push((blocks - 1, n, cin, hw, planes, 1, 1, 0));
        v.push((blocks - 1, n, planes, hw, planes, 3, 1, 1));
        v.push((blocks - 1, n, planes, hw, cin, 1, 1, 0));
    }
    v
}

/// CPU time of all this process's threads (ns), from /proc: with other
/// work on the machine, a thread's time on the CPU is steadier than the wall clock.
fn cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// fcn_resnet50's heavy layers at 520x520 (65x65 maps, dilated 3x3 as padded).
fn fcn() -> Vec<Layer> {
    vec![
        (1, 1, 2048, 65, 512, 3, 1, 1),
        (1, 1, 1024, 65, 256, 3, 1, 1),
        (5, 1, 256, 65, 256, 3, 1, 1),
        (6, 1, 1024, 65, 256, 1, 1, 0),
        (6, 1, 256, 65, 1024, 1, 1, 0),
        (3, 1, 512, 65, 512, 3, 1, 1),
        (3, 1, 2048, 65, 512, 1, 1, 0),
        (3, 1, 512, 65, 2048, 1, 1, 0),
    ]
}

fn main() {
    let cpu = std::env::var("CPU").is_ok();
    let args: Vec<String> = std::env::args().collect();
    let net = args.get(1).map_or("r18b128", String::as_str);
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let layers = match net {
        "r18b128" => resnet18(128, 32),
        "r18b8" => resnet18(8, 224),
        "r50b8" => resnet50(8, 224),
        "r50b1" => resnet50(1, 224),
        "fcn" => fcn(),
        _ => panic!("net: r18b128, r18b8, r50b8, r50b1 or fcn"),
    };
    let mut total = 0.0f64;
    for &(count, n, cin, h, cout, k, s, p) in &layers {
        let o = (h + 2 * p - k) / s + 1;
        let win = Window {
            c: cin,
            h,
            w: h,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            ph: p,
            pw: p,
            dh: 1,
            dw: 1,
            oh: o,
            ow: o,
        };
        let wlen = cout * cin * k * k;
        let x: Vec<f32> = (0..n * cin * h * h)
            .map(|i| (i % 13) as f32 * 0.01)
            .collect();
        let w: Vec<f32> = (0..wlen).map(|i| (i % 11) as f32 * 0.01).collect();
        let mut y = vec![0.0f32; n * cout * o * o];
        let bt = Batch {
            n,
            groups: 1,
            m: cout,
        };
        let mut samples = Vec::new();
        for r in 0..runs + 1 {
            let (t, c0) = (Instant::now(), if cpu { cpu_ns() } else { 0 });
            forward(&win, bt, &x, &w, None, Epilogue::NONE, &mut y);
            let dt = if cpu {
                (cpu_ns() - c0) as f64 * 1e-9
            } else {
                t.elapsed().as_secs_f64()
            };
            if r > 0 {
                samples.push(dt);
            }
        }
        // Multiply-adds done (taps that only read padding are skipped).
        let kept = win.trimmed().map_or(win.k(), |t| t.win.k());
        let macs = (n * cout * o * o * kept) as f64;
        samples.sort_by(f64::total_cmp);
        let med = samples[samples.len() / 2];
        total += count as f64 * med;
        println!(
            "{count} x [{n},{cin},{h},{h}] -> {cout} k{k} s{s}: {:.2} ms ({:.0} GFLOP/s)",
            med * 1e3,
            2.0 * macs / med / 1e9
        );
    }
    println!("{net}: convolutions total {:.1} ms", total * 1e3);
}
