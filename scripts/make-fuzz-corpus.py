#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets under test/fuzz-corpus/<target>/: a few valid
inputs and a few invalid ones per target. Run from the repository root; the files are committed,
so this is needed only to change the seeds."""
import gzip
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fuzz-corpus")


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def idx(dims, payload=None):
    count = 1
    for d in dims:
        count *= d
    if payload is None:
        payload = bytes(i % 256 for i in range(count))
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def gz(data):
    return gzip.compress(data, mtime=0)


# ---- fuzz_idx: bt_idx_parse on raw bytes
write("fuzz_idx", "valid-labels", idx([5], bytes([0, 1, 2, 3, 9])))
write("fuzz_idx", "valid-images", idx([3, 2, 2]))
write("fuzz_idx", "truncated", idx([3, 2, 2])[:-2])
write("fuzz_idx", "trailing", idx([4], bytes(4)) + b"x")
write("fuzz_idx", "bad-type", bytes([0, 0, 9, 1, 0, 0, 0, 1, 0]))
write("fuzz_idx", "zero-dim", bytes([0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0, 3]))
write("fuzz_idx", "huge-dims", bytes([0, 0, 8, 3]) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 2))


# ---- fuzz_dataset: u16 split, images file, labels file (raw or gzip)
def pair(images, labels):
    return struct.pack("<H", len(images)) + images + labels


images = idx([3, 2, 2])
labels = idx([3], bytes([0, 7, 9]))
write("fuzz_dataset", "valid-raw", pair(images, labels))
write("fuzz_dataset", "valid-gzip", pair(gz(images), gz(labels)))
write("fuzz_dataset", "valid-mixed", pair(gz(images), labels))
write("fuzz_dataset", "label-out-of-range", pair(images, idx([3], bytes([0, 10, 1]))))
write("fuzz_dataset", "count-mismatch", pair(images, idx([2], bytes([0, 1]))))
write("fuzz_dataset", "swapped", pair(labels, images))
write("fuzz_dataset", "gzip-trailing", pair(gz(images) + b"junk", gz(labels)))
write("fuzz_dataset", "gzip-truncated", pair(gz(images)[:-6], gz(labels)))
write("fuzz_dataset", "gzip-bomb-header",
      pair(gz(bytes([0, 0, 8, 3]) + struct.pack(">III", 0x7FFFFFFF, 28, 28)), gz(labels)))
write("fuzz_dataset", "empty", pair(b"", b""))


# ---- fuzz_params_file: the binary parameter file
def params_file(sizes, params, hidden=0, output=0, cost=0, init=0, version=1, count=None,
                crc=None):
    if count is None:
        count = sum(sizes[l] * (sizes[l - 1] + 1) for l in range(1, len(sizes)))
    body = b"BTNET\0\0\0" + struct.pack("<IIIIIIQ", version, len(sizes), hidden, output, cost,
                                        init, count)
    body += b"".join(struct.pack("<Q", s) for s in sizes)
    body += b"".join(struct.pack("<f", p) for p in params)
    return body + struct.pack("<I", zlib.crc32(body) if crc is None else crc)


small = [3, 2, 2]
small_params = [0.01 * i for i in range(2 * 4 + 2 * 3)]
write("fuzz_params_file", "valid-3-2-2", params_file(small, small_params))
write("fuzz_params_file", "valid-softmax", params_file([2, 2], [0.5] * 6, output=3, cost=2))
write("fuzz_params_file", "bad-crc", params_file(small, small_params, crc=0x12345678))
write("fuzz_params_file", "nan", params_file(small, [float("nan")] + small_params[1:]))
write("fuzz_params_file", "truncated", params_file(small, small_params)[:-7])
write("fuzz_params_file", "trailing", params_file(small, small_params) + b"\0")
write("fuzz_params_file", "bad-count", params_file(small, small_params, count=15))
write("fuzz_params_file", "bad-version", params_file(small, small_params, version=2))
write("fuzz_params_file", "zero-size", params_file([3, 0, 2], [], count=0))
write("fuzz_params_file", "magic-only", b"BTNET\0\0\0")


# ---- fuzz_gemm_params_file: the GEMM-tuning text file
DIRECT = "KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD VWND WGD".split()
INDIRECT = "GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN".split()


def gemm_file(direct=None, indirect=None, split=None, comment=None, crc=None, version=1):
    text = ("format=batchtune-gemm-tuning %u\nplatform=Portable Computing Language\n"
            "device=cpu-haswell-AMD EPYC\ndriver=3.1+debian\nclblast=1.6.3\n") % version
    if comment:
        text += comment
    if direct is None:
        text += "XgemmDirect=default\n"
    else:
        text += "".join("XgemmDirect.%s=%u\n" % (n, v) for n, v in zip(DIRECT, direct))
    if indirect is None:
        text += "Xgemm=default\n"
    else:
        text += "".join("Xgemm.%s=%u\n" % (n, v) for n, v in zip(INDIRECT, indirect))
    text += "GemmRoutine=default\n" if split is None else \
        "GemmRoutine.XGEMM_MIN_INDIRECT_SIZE=%u\n" % split
    stored = zlib.crc32(text.encode()) if crc is None else crc
    return text + "crc32=%08x\n" % stored


write("fuzz_gemm_params_file", "valid-defaults", gemm_file())
write("fuzz_gemm_params_file", "valid-tuned",
      gemm_file(direct=[2, 8, 8, 8, 8, 1, 1, 2, 2, 32],
                indirect=[0, 1, 16, 2, 8, 8, 32, 8, 8, 32, 1, 1, 0, 0, 2, 2], split=384,
                comment="# measured 1.4x as fast as the defaults\n"))
write("fuzz_gemm_params_file", "bad-crc", gemm_file(crc=0))
write("fuzz_gemm_params_file", "no-final-newline", gemm_file()[:-1])
write("fuzz_gemm_params_file", "nul-after-crc", gemm_file() + "\0junk\n")
write("fuzz_gemm_params_file", "value-too-big", gemm_file(split=1 << 25))
write("fuzz_gemm_params_file", "wrong-format", gemm_file(version=2))
write("fuzz_gemm_params_file", "empty", b"")

# ---- fuzz_cli_parsers: one text, every parser
for name, text in [("layers", "784,100,10"), ("layers-bad", "784,,10"), ("layers-huge",
                   "99999999999999999999,10"), ("activation", "sigmoid"), ("cost", "cross-entropy"),
                   ("init", "scaled"), ("engine", "fused"), ("sizes", "10,32,128"),
                   ("real", "3e-1"), ("real-overflow", "1e39"), ("u64-overflow",
                   "18446744073709551616"), ("selector-index", "1"), ("selector-pair", "1:1"),
                   ("selector-type", "gpu"), ("selector-name", "pocl cpu"),
                   ("selector-bad", "9:9:9")]:
    write("fuzz_cli_parsers", name, text)
