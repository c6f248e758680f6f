"""Per-update time of the book network (784,30,10 sigmoid, quadratic cost) and the wide network
(784,256,128,10 ReLU, softmax + cross-entropy) in PyTorch on one device, per batch size: the
peer of `batchtune bench` on a GPU. Plain SGD, data already on the device, no evaluation; the
median of 5 blocks of >= 0.2 s, after a warm-up. TF32 off.

  python3 torch_steps.py [--ms 1,10,32,...] [--device cuda]
"""
import argparse, time
import torch

p = argparse.ArgumentParser()
p.add_argument("--ms", default="1,10,32,128,512,2048,8192")
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
a = p.parse_args()
dev = torch.device(a.device)
torch.backends.cuda.matmul.allow_tf32 = False
torch.manual_seed(1)
X = torch.rand(16384, 784, device=dev)
Y = torch.randint(0, 10, (16384,), device=dev)


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def make(kind):
    if kind == "book":
        net = torch.nn.Sequential(torch.nn.Linear(784, 30), torch.nn.Sigmoid(),
                                  torch.nn.Linear(30, 10), torch.nn.Sigmoid()).to(dev)
        def loss(out, y):
            return 0.5 * ((out - torch.nn.functional.one_hot(y, 10).float()) ** 2).sum(1).mean()
    else:
        net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                  torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                  torch.nn.Linear(128, 10)).to(dev)
        def loss(out, y):
            return torch.nn.functional.cross_entropy(out, y)
    return net, loss


for kind in ("book", "wide"):
    for m in [int(v) for v in a.ms.split(",")]:
        net, loss = make(kind)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        pos = [0]

        def step():
            k = pos[0] if pos[0] + m <= X.shape[0] else 0
            opt.zero_grad(set_to_none=True)
            loss(net(X[k:k + m]), Y[k:k + m]).backward()
            opt.step()
            pos[0] = k + m

        for _ in range(20):
            step()
        sync()
        n = 1
        while True:
            t = time.perf_counter()
            for _ in range(n):
                step()
            sync()
            if time.perf_counter() - t > 0.05:
                break
            n *= 4
        n = max(1, int(n * 0.2 / (time.perf_counter() - t)))
        times = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(n):
                step()
            sync()
            times.append((time.perf_counter() - t) / n)
        times.sort()
        med = times[2]
        print(f"torch {kind:4s} {dev.type} m={m:5d} step {med * 1e3:8.4f} ms  "
              f"{m / med:12.0f} examples/s", flush=True)
