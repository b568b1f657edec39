#!/usr/bin/env python3
"""Checks a `dlib-oracle dump-mmod` directory against the algorithm written down in
tools/oracle/README.md, step by step, and says where the description and dlib disagree.

    python3 tools/oracle/verify_dump.py DUMPDIR
    python3 tools/oracle/verify_dump.py --chip DUMPDIR/original.png FACES.jsonl IMAGE CHIP.png [FACE]

It re-derives, from original.png alone (plus layer_001.f32 for the last step):
  1. pyramid_up (upsample N)            -> compared with upsampled.png        (must be exact)
  2. the tiled-pyramid layout           -> compared with manifest pyramid_rects (exact)
  3. the normalized input tensor        -> compared with input.f32             (exact, bit for bit)
  4. score map -> boxes -> NMS -> rect_down -> compared with the manifest's detections (exact)

With --chip it recomputes one face chip (get_face_chip_details + extract_image_chip, README iv)
from original.png and the landmarks of a `faces --chip-details` line, and compares it pixel for pixel.

This is an executable form of the README's description for the Swift port; it is not used by
the tests. Needs numpy. Slow-ish on big images (pure numpy, a few seconds per level).
"""
import json
import math
import struct
import sys
import zlib

import numpy as np

f32 = np.float32


# ---------------------------------------------------------------------------------------------
# Minimal PNG reader (8-bit gray/RGB/RGBA, non-interlaced: what dlib's save_png writes).

def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and interlace == 0 and ctype in (0, 2, 6), ihdr
    ch = {0: 1, 2: 3, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for r in range(h):
        f = raw[r * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, r * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for i in range(stride):
            a = cur[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            if f == 0: p = 0
            elif f == 1: p = a
            elif f == 2: p = b
            elif f == 3: p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
            cur[i] = (line[i] + p) & 255
        out[r] = cur
        prev = cur
    img = out.reshape(h, w, ch)
    if ch == 1:
        img = np.repeat(img, 3, axis=2)
    return img[:, :, :3]


# ---------------------------------------------------------------------------------------------
# dlib's bilinear resize_image (image_transforms/interpolation.h), the two SIMD specializations.

def column_plan(src_nc, dst_nc):
    """Per output column: left, right, lr_frac as the SIMD loop (float lanes) or the scalar tail
    (double) computes them. Returns (left, right, lr_float32, simd_mask, lr_double)."""
    xs = (src_nc - 1) / max(dst_nc - 1, 1)
    left = np.zeros(dst_nc, np.int64); right = np.zeros(dst_nc, np.int64)
    lr32 = np.zeros(dst_nc, np.float32); lr64 = np.zeros(dst_nc, np.float64)
    simd = np.zeros(dst_nc, bool)
    x0 = -4 * xs
    lanes = np.array([x0, x0 + xs, x0 + 2 * xs, x0 + 3 * xs], np.float32)  # simd4f from doubles
    step = f32(4 * xs)
    c = 0
    while True:
        lanes = (lanes + step).astype(np.float32)        # accumulated in float
        l = np.trunc(lanes).astype(np.int64)              # _mm_cvttps_epi32
        if l[3] + 1 >= src_nc:                            # fright[3] >= nc -> break
            break
        if c + 4 > dst_nc:
            break
        left[c:c + 4] = l; right[c:c + 4] = l + 1
        lr32[c:c + 4] = (lanes - l.astype(np.float32)).astype(np.float32)
        simd[c:c + 4] = True
        c += 4
    x = -xs + c * xs
    while c < dst_nc:                                     # scalar tail, double x
        x += xs
        l = math.floor(x)
        left[c] = l; right[c] = min(l + 1, src_nc - 1)
        lr64[c] = x - l
        lr32[c] = f32(x - l)
        c += 1
    return left, right, lr32, simd, lr64


def row_plan(src_nr, dst_nr):
    ys = (src_nr - 1) / max(dst_nr - 1, 1)
    y = -ys
    top = np.zeros(dst_nr, np.int64); bottom = np.zeros(dst_nr, np.int64); tb = np.zeros(dst_nr)
    for r in range(dst_nr):
        y += ys                                           # accumulated in double
        t = math.floor(y)
        top[r] = t; bottom[r] = min(t + 1, src_nr - 1); tb[r] = y - t
    return top, bottom, tb


def resize_float_plane(S, dst_nr, dst_nc):
    """float grayscale specialization (used by tt::resize_bilinear on the tensor planes)."""
    src_nr, src_nc = S.shape
    left, right, lr, simd, _ = column_plan(src_nc, dst_nc)
    top, bottom, tb = row_plan(src_nr, dst_nr)
    out = np.zeros((dst_nr, dst_nc), np.float32)
    ilr = (f32(1) - lr).astype(np.float32)
    for r in range(dst_nr):
        tbf = f32(tb[r]); itbf = f32(1 - tb[r])
        T, B = S[top[r]], S[bottom[r]]
        m = simd
        tlf = itbf * ilr[m]; trf = itbf * lr[m]; blf = tbf * ilr[m]; brf = tbf * lr[m]
        v = (tlf * T[left[m]] + trf * T[right[m]]).astype(np.float32)
        v = (v + blf * B[left[m]]).astype(np.float32)
        out[r, m] = (v + brf * B[right[m]]).astype(np.float32)
        t = ~simd                                          # tail: float inner terms, double outer
        i1 = ((ilr[t] * T[left[t]]).astype(np.float32) + (lr[t] * T[right[t]]).astype(np.float32)).astype(np.float32)
        i2 = ((ilr[t] * B[left[t]]).astype(np.float32) + (lr[t] * B[right[t]]).astype(np.float32)).astype(np.float32)
        out[r, t] = ((1 - tb[r]) * i1.astype(np.float64) + tb[r] * i2.astype(np.float64)).astype(np.float32)
    return out


def resize_rgb(img, dst_nr, dst_nc):
    """rgb_pixel specialization (used by pyramid_up): float weights, truncation to uint8."""
    src_nr, src_nc, _ = img.shape
    left, right, lr, simd, lr64 = column_plan(src_nc, dst_nc)
    top, bottom, tb = row_plan(src_nr, dst_nr)
    out = np.zeros((dst_nr, dst_nc, 3), np.uint8)
    S = img.astype(np.float32)
    ilr = (f32(1) - lr).astype(np.float32)
    for r in range(dst_nr):
        tbf = f32(tb[r]); itbf = f32(1 - tb[r])
        T, B = S[top[r]], S[bottom[r]]
        m = simd
        tlf = (itbf * ilr[m])[:, None]; trf = (itbf * lr[m])[:, None]
        blf = (tbf * ilr[m])[:, None]; brf = (tbf * lr[m])[:, None]
        v = (tlf * T[left[m]] + trf * T[right[m]]).astype(np.float32)
        v = (v + blf * B[left[m]]).astype(np.float32)
        v = (v + brf * B[right[m]]).astype(np.float32)
        out[r, m] = np.trunc(v).astype(np.int64).astype(np.uint8)
        t = ~simd
        lrd = lr64[t][:, None]
        Td, Bd = T.astype(np.float64), B.astype(np.float64)
        vd = (1 - tb[r]) * ((1 - lrd) * Td[left[t]] + lrd * Td[right[t]]) + tb[r] * ((1 - lrd) * Bd[left[t]] + lrd * Bd[right[t]])
        out[r, t] = np.trunc(vd).astype(np.uint8)
    return out


def pyramid_up(img):
    """pyramid_up(img, pyramid_down<2>): output size from rect_up of the image rect."""
    nr, nc, _ = img.shape
    # point_up(p) = (p + (1.25, 0.75)) * 2 on tl=(0,0) and br=(nc-1,nr-1), then rounded
    right = math.floor((nc - 1 + 1.25) * 2 + 0.5)
    bottom = math.floor((nr - 1 + 0.75) * 2 + 0.5)
    return resize_rgb(img, bottom + 1, right + 1)


# ---------------------------------------------------------------------------------------------
# Tiled pyramid layout (image_transforms/image_pyramid.h, compute_tiled_image_pyramid_details)

def tiled_layout(nr, nc, padding, outer):
    sizes = [(nc, nr)]
    while True:
        nr = math.floor(5.0 / 6.0 * nr)   # find_pyramid_down_output_image_size, pyramid_down<6>
        nc = math.floor(5.0 / 6.0 * nc)
        if nr * nc == 0 or nr < 5:
            break
        sizes.append((nc, nr))
    W0, H0 = sizes[0]
    total = sum(h + padding for _, h in sizes) - 2 * padding
    height, prev_w = 0, 0
    for w, h in sizes:
        if w <= W0 - prev_w - padding and (height - H0) * 2 >= (total - H0):
            break
        height += h + padding
        prev_w = w
    height -= padding
    NR, NC = height + 2 * outer, W0 + 2 * outer
    rects = []
    y, i = outer, 0
    while y < height + outer and i < len(sizes):
        w, h = sizes[i]
        rects.append([outer, y, outer + w - 1, y + h - 1])
        y += h + padding
        i += 1
    y -= padding
    while i < len(sizes):
        w, h = sizes[i]
        r, b = outer + W0 - 1, y - 1
        rect = [r - (w - 1), b - (h - 1), r, b]
        R0 = rects[0]
        if not (rect[2] < R0[0] or rect[0] > R0[2] or rect[3] < R0[1] or rect[1] > R0[3]):
            break
        rects.append(rect)
        y -= h + padding
        i += 1
    return rects, NR, NC


# ---------------------------------------------------------------------------------------------
# Score map -> boxes (dnn/loss.h loss_mmod_::tensor_to_dets, to_label)

def rnd(v):
    return math.floor(v + 0.5)


def nearest_rect(rects, p):
    best, idx = float("inf"), 0
    for i, (l, t, r, b) in enumerate(rects):
        if l <= p[0] <= r and t <= p[1] <= b:
            return i
        q = (min(max(p[0], l), r), min(max(p[1], t), b))
        d = math.hypot(q[0] - p[0], q[1] - p[1])
        if d < best:
            best, idx = d, i
    return idx


def tensor_rect_to_image(rects, dr):
    l, t, r, b = dr
    c = (rnd((l + r) / 2), rnd((t + b) / 2))
    lvl = nearest_rect(rects, c)
    ox, oy = rects[lvl][0], rects[lvl][1]
    pts = [[l - ox, t - oy], [r - ox, b - oy]]
    for _ in range(lvl):                    # pyramid_down<6>::point_up: p*6/5 + 0.3
        pts = [[x * (6 / 5.0) + 0.3, y * (6 / 5.0) + 0.3] for x, y in pts]
    return [rnd(pts[0][0]), rnd(pts[0][1]), rnd(pts[1][0]), rnd(pts[1][1])]


def area(a):
    return max(0, a[2] - a[0] + 1) * max(0, a[3] - a[1] + 1)


def overlaps(a, b, iou, cover):
    inner = area([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])
    if inner == 0:
        return False
    outer = area([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])  # bounding box!
    return inner / outer > iou or inner / area(a) > cover or inner / area(b) > cover


def rect_down2(r, levels):                  # pyramid_down<2>::rect_down: p/2 - (1.25, 0.75)
    l, t, rr, b = map(float, r)
    for _ in range(levels):
        l, t, rr, b = l / 2 - 1.25, t / 2 - 0.75, rr / 2 - 1.25, b / 2 - 0.75
    return [rnd(l), rnd(t), rnd(rr), rnd(b)]



# ---------------------------------------------------------------------------------------------
# Face chips (image_transforms/interpolation.h get_face_chip_details / extract_image_chips)

TEMPLATE = [(0.8595674595992, 0.2134981538014), (0.6460604764104, 0.2289674387677),
            (0.1205750620789, 0.2137274526848), (0.3340850613712, 0.2290642403242),
            (0.4901123135679, 0.6277975316475)]

def similarity(frm, to):
    """find_similarity_transform (Umeyama); returns (c*R, t)."""
    frm=np.array(frm,float); to=np.array(to,float); n=len(frm)
    mf=frm.mean(0); mt=to.mean(0)
    sf=((frm-mf)**2).sum()/n
    cov=sum(np.outer(to[i]-mt, frm[i]-mf) for i in range(n))/n
    U,D,Vt=np.linalg.svd(cov); S=np.eye(2)
    if np.linalg.det(cov) < 0:
        if D[1] < D[0]: S[1, 1] = -1
        else: S[0, 0] = -1
    R=U@S@Vt; c=np.trace(np.diag(D)@S)/sf if sf!=0 else 1
    return c*R, mt - c*R@mf

def affine3(frm,to):
    P=np.vstack([np.array(frm,float).T, np.ones(3)]); Q=np.array(to,float).T
    M=Q@np.linalg.pinv(P); return M[:,:2], M[:,2]

def rot(c,p,a):
    s,co=math.sin(a),math.cos(a); x,y=p[0]-c[0],p[1]-c[1]
    return (c[0]+co*x-s*y, c[1]+s*x+co*y)

def rect_down(r): return [r[0]/2-1.25, r[1]/2-0.75, r[2]/2-1.25, r[3]/2-0.75]
def darea(r): return max(0,r[2]-r[0]+1)*max(0,r[3]-r[1]+1)

def pyr_down2(img):
    """pyramid_down<2> on rgb: [1 4 6 4 1] at every other pixel, uint16 sums, /256 truncated."""
    nr,nc,_=img.shape
    I=img.astype(np.int64); w=[1,4,6,4,1]
    tnc=(nc-3)//2
    tmp=sum(w[k]*I[:,k:k+2*tnc:2] for k in range(5))
    onr=(nr-3)//2
    out=sum(w[k]*tmp[k:k+2*onr:2] for k in range(5))
    return (out//256).astype(np.uint8)

def extract_face_chip(img, landmarks, size=150, pad=0.25):
    """get_face_chip_details + extract_image_chip, as README (iv) describes."""
    frm=[((pad+x)/(2*pad+1)*size,(pad+y)/(2*pad+1)*size) for x,y in TEMPLATE]
    M,t=similarity(frm, landmarks)
    p=M@np.array([1.0,0]); angle=math.atan2(p[1],p[0]); scale=math.hypot(*p)
    c=M@np.array([75.0,75.0])+t; w=size*scale-1
    rect=[c[0]-w/2,c[1]-w/2,c[0]+w/2,c[1]+w/2]
    nr,nc,_=img.shape
    # depth / grow / bounding box
    r=rect_down(rect); depth=0; grow=2
    while darea(r)>size*size: r=rect_down(r); depth+=1; grow=grow*2+2
    cen=((rect[0]+rect[2])/2,(rect[1]+rect[3])/2)
    pts=[rot(cen,q,angle) for q in [(rect[0],rect[1]),(rect[2],rect[1]),(rect[0],rect[3]),(rect[2],rect[3])]]
    bb=[min(q[0] for q in pts)-grow, min(q[1] for q in pts)-grow, max(q[0] for q in pts)+grow, max(q[1] for q in pts)+grow]
    bb=[max(bb[0],0),max(bb[1],0),min(bb[2],nc-1),min(bb[3],nr-1)]
    bb=[math.floor(x+0.5) for x in bb]
    crop=img[bb[1]:bb[3]+1, bb[0]:bb[2]+1]
    levels=[]
    if depth>0:
        levels.append(pyr_down2(crop))
        for i in range(1,depth): levels.append(pyr_down2(levels[-1]))
    level=-1; rr=[rect[0]-bb[0],rect[1]-bb[1],rect[2]-bb[0],rect[3]-bb[1]]
    while darea(rect_down(rr))>size*size: level+=1; rr=rect_down(rr)
    cen=((rr[0]+rr[2])/2,(rr[1]+rr[3])/2)
    to=[rot(cen,(rr[0],rr[1]),angle), rot(cen,(rr[2],rr[1]),angle), rot(cen,(rr[0],rr[3]),angle)]
    A,b=affine3([(0,0),(size-1,0),(0,size-1)], to)
    src=(crop if level==-1 else levels[level]).astype(np.float64)
    snr,snc,_=src.shape
    out=np.zeros((size,size,3),np.uint8)
    for r_ in range(size):
        for c_ in range(size):
            x,y=A@np.array([c_,r_],float)+b
            l=math.floor(x); tp=math.floor(y)
            if not (l>=0 and tp>=0 and l+1<snc and tp+1<snr): continue
            lr=x-l; tb=y-tp
            val=(1-tb)*((1-lr)*src[tp,l]+lr*src[tp,l+1]) + tb*((1-lr)*src[tp+1,l]+lr*src[tp+1,l+1])
            out[r_,c_]=np.trunc(val).astype(np.uint8)
    return out, rect, angle, level



def verify_chip(original_png, fixture, rel, chip_png, face=0):
    """Recomputes chip `face` of image `rel` (a line of a `faces` JSONL made with --chip-details)
    from original.png and the landmarks, and compares it with the chip PNG."""
    img = read_png(original_png)
    d = None
    for line in open(fixture):
        if not line.startswith("#"):
            e = json.loads(line)
            if e["image"] == rel:
                d = e
    if d is None:
        print(f"FAIL no line for {rel} in {fixture}")
        return 1
    f = d["faces"][face]
    out, rect, angle, level = extract_face_chip(img, [tuple(p) for p in f["landmarks"]])
    ok = True
    if "chip" in f:
        dr = np.abs(np.array(rect) - np.array(f["chip"]["rect"])).max()
        print(f"{'ok  ' if dr < 1e-9 else 'FAIL'} chip rect (max |diff| {dr:.3g}), angle diff {angle - f['chip']['angle']:.3g}")
        ok &= dr < 1e-9
    ref = read_png(chip_png)
    diff = np.abs(out.astype(int) - ref.astype(int))
    print(f"{'ok  ' if diff.max() == 0 else 'FAIL'} chip pixels (pyramid level {level}): max |diff| {diff.max()}, {(diff > 0).sum()} values differ")
    ok &= diff.max() == 0
    return 0 if ok else 1

# ---------------------------------------------------------------------------------------------

def main(d):
    m = json.load(open(f"{d}/manifest.json"))
    ok = True

    def report(name, good, extra=""):
        nonlocal ok
        ok &= bool(good)
        print(f"{'ok  ' if good else 'FAIL'} {name} {extra}")

    img = read_png(f"{d}/original.png")
    for _ in range(m["upsample"]):
        img = pyramid_up(img)
    if m["upsample"] > 0:
        ref = read_png(f"{d}/upsampled.png")
        same = ref.shape == img.shape and np.array_equal(ref, img)
        report("pyramid_up", same, f"{img.shape[1]}x{img.shape[0]}" + ("" if same else f" differs in {(ref != img).sum()} values"))

    inp = m["input"]
    rects, NR, NC = tiled_layout(img.shape[0], img.shape[1], inp["pyramid_padding"], inp["pyramid_outer_padding"])
    report("tiled layout", rects == m["pyramid_rects"] and [NR, NC] == inp["shape"][2:], f"{NC}x{NR}, {len(rects)} levels")

    x = np.fromfile(f"{d}/{inp['file']}", "<f4").reshape(inp["shape"])[0]
    t = np.zeros((3, NR, NC), np.float32)
    avg = [f32(a) for a in inp["avg_rgb"]]
    l, tp, r, b = rects[0]
    for ch in range(3):
        t[ch, tp:b + 1, l:r + 1] = (img[:, :, ch].astype(np.float32) - avg[ch]).astype(np.float32) / f32(256)
        for i in range(1, len(rects)):
            sl, st, sr, sb = rects[i - 1]
            dl, dt, dr, db = rects[i]
            t[ch, dt:db + 1, dl:dr + 1] = resize_float_plane(t[ch, st:sb + 1, sl:sr + 1], db - dt + 1, dr - dl + 1)
    diff = np.abs(t - x)
    report("input tensor", diff.max() == 0, f"max |diff| {diff.max():.3g}, {(diff > 0).sum()} values differ")

    L1 = m["layers"][0]
    scores = np.fromfile(f"{d}/{L1['file']}", "<f4").reshape(L1["shape"])[0]
    opts = m["mmod_options"]
    thr = m["adjust_threshold"]
    dets = []
    for k, win in enumerate(opts["detector_windows"]):
        for (rr, cc) in zip(*np.nonzero(scores[k] > thr)):
            px, py = 8 * cc + 14, 8 * rr + 14          # output_tensor_to_input_tensor for this net
            w, h = win["width"] - 1, win["height"] - 1
            dets.append((float(scores[k, rr, cc]), tensor_rect_to_image(rects, (px - w / 2, py - h / 2, px + w / 2, py + h / 2))))
    dets.sort(key=lambda s: -s[0])
    want = [(e["score"], e["rect"]) for e in m["detections_before_nms"]]
    same = len(dets) == len(want) and all(abs(a[0] - b[0]) < 1e-6 and a[1] == b[1] for a, b in zip(dets, want))
    report("detections before NMS", same, f"{len(dets)} boxes")
    iou, cover = opts["overlaps_nms"]["iou_thresh"], opts["overlaps_nms"]["percent_covered_thresh"]
    kept = []
    for s, rect in dets:
        if not any(overlaps(k2[1], rect, iou, cover) for k2 in kept):
            kept.append((s, rect))
    want = m["detections_after_nms"]
    same = len(kept) == len(want) and all(a[1] == b["rect"] and rect_down2(a[1], m["upsample"]) == b["rect_original"]
                                          for a, b in zip(kept, want))
    report("NMS + rect_down", same, str([rect_down2(k2[1], m["upsample"]) for k2 in kept]))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) in (6, 7) and sys.argv[1] == "--chip":
        sys.exit(verify_chip(*sys.argv[2:6], *(int(a) for a in sys.argv[6:7])))
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
