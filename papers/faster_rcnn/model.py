"""Faster R-CNN (Ren et al. 2015): a Region Proposal Network and a Fast R-CNN head on shared convolutions.

Read top to bottom beside the paper:

1. anchors (§3.1.1): k = 9 reference boxes, 3 scales (areas 128², 256², 512²) x 3 aspect ratios
   (1:1, 1:2, 2:1), centred at every position of the stride-16 feature map;
2. the box parameterisation of Eq. (2), shared by the RPN and the detector;
3. the RPN (§3.1, Fig. 3): a 3x3 sliding window, then sibling 1x1 layers, cls (2k scores) and reg (4k);
4. the proposal layer (§3.3): decode, clip, drop tiny boxes, NMS at IoU 0.7, keep the top N
   (2,000 for training, 300 for testing);
5. RoI pooling and the Fast R-CNN detection head (§3.2, from Girshick 2015): two fc layers, then a
   (C + 1)-way softmax and class-specific box regression;
6. the shared backbone: VGG-16 up to conv5_3 (stride 16, 512 channels) as in the paper, and a small
   CPU backbone with the same stride.

The losses, anchor labelling and mini-batch sampling of §3.1.2 are in ``loss.py``; the training
schemes (§3.2: 4-step alternating and approximate joint) in ``train.py``. Weight import from
torchvision's VGG-16 lives in ``interop.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from shared.boxes import batched_nms, box_iou, clip_boxes_to_image, remove_small_boxes


@dataclass
class FasterRCNNConfig:
    """The hyper-parameters of Fig. 2's network: anchors (§3.1.1), RPN (§3.1), proposals (§3.3), detector (§3.2)."""
    backbone: str = "vgg16"                    # vgg16 (§4.1, conv5_3) | cpu (a small stride-16 net)
    num_classes: int = 20                      # object classes C; the detector predicts C + 1 (background)
    # §3.1.1 anchors: "3 scales with box areas of 128², 256², and 512² pixels, and 3 aspect ratios of 1:1, 1:2, and 2:1"
    anchor_sizes: tuple[float, ...] = (128.0, 256.0, 512.0)
    anchor_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)   # height / width
    anchor_offset: float = 0.0                 # anchor centre at (x + offset) * stride; 0 as torchvision (see README)
    stride: int = 16                           # §3.1: total stride 16 on VGG-16 and ZF
    rpn_channels: int = 512                    # §3.1: "a 512-d feature" (VGG-16; 256-d for ZF)
    rpn_softmax: bool = True                   # §3.1: cls as a two-class softmax (2k scores); False: k logistic scores
    # §3.3 proposals: NMS at 0.7, top-2,000 for training, top-300 for testing
    nms_thresh: float = 0.7
    pre_nms_top_n_train: int = 12000           # not stated in the paper; the authors' code (py-faster-rcnn)
    pre_nms_top_n_test: int = 6000
    post_nms_top_n_train: int = 2000
    post_nms_top_n_test: int = 300
    min_size: float = 16.0                     # drop proposals smaller than this (authors' code; see README)
    # Fast R-CNN head (Girshick 2015 §2.1): RoI max pooling to 7x7, fc6, fc7 (4096, dropout 0.5)
    roi_size: int = 7
    fc_dim: int = 4096
    dropout: float = 0.5
    # detector outputs (§3.2 "Fast R-CNN"): class-specific box regression
    det_score_thresh: float = 0.05
    det_nms_thresh: float = 0.3
    det_per_image: int = 100
    box_weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)   # Eq. (2) as printed; (10, 10, 5, 5) = code
    bbox_clip: float = math.log(1000.0 / 16)   # largest log-scale change decoded (numerical guard, as torchvision)
    init_std: float = 0.01                     # §3.1.3: new layers from N(0, 0.01)
    cpu_widths: tuple[int, ...] = (32, 64, 128, 128)   # the CPU backbone's stage widths


# ------------------------------------------------------------------------------------------------ anchors
def cell_anchors(sizes, ratios) -> torch.Tensor:
    """§3.1.1: the k = len(ratios) * len(sizes) reference boxes of one position, centred at 0, ``[k, 4]`` xyxy.

    A ratio r = h/w keeps the area: w = s / sqrt(r), h = s * sqrt(r). Order: ratio-major, scale-minor;
    corners rounded to whole pixels (as torchvision's ``AnchorGenerator``)."""
    s = torch.as_tensor(sizes, dtype=torch.float32)
    r = torch.as_tensor(ratios, dtype=torch.float32)
    h_ratio = r.sqrt()
    ws = (s[None, :] / h_ratio[:, None]).reshape(-1)
    hs = (s[None, :] * h_ratio[:, None]).reshape(-1)
    return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()


def grid_anchors(feat_h: int, feat_w: int, stride: int, base: torch.Tensor, offset: float = 0.0) -> torch.Tensor:
    """§3.1.1: every anchor at every position of an ``feat_h x feat_w`` map, ``[feat_h * feat_w * k, 4]``.

    Position-major, anchor-minor: anchor a at position (y, x) is row ``(y * feat_w + x) * k + a`` (the same
    order the RPN's outputs are flattened in)."""
    xs = (torch.arange(feat_w, dtype=torch.float32) + offset) * stride
    ys = (torch.arange(feat_h, dtype=torch.float32) + offset) * stride
    cy, cx = torch.meshgrid(ys, xs, indexing="ij")
    shifts = torch.stack([cx, cy, cx, cy], dim=-1).reshape(-1, 1, 4)          # [HW, 1, 4]
    return (shifts + base.reshape(1, -1, 4)).reshape(-1, 4)


# ------------------------------------------------------------------------------------------------ Eq. (2)
def encode(boxes: torch.Tensor, anchors: torch.Tensor, weights=(1.0, 1.0, 1.0, 1.0)) -> torch.Tensor:
    """Eq. (2): t_x = (x - x_a)/w_a, t_y = (y - y_a)/h_a, t_w = log(w/w_a), t_h = log(h/h_a); ``[N, 4]``.

    (x, y) is the box centre, w and h its size (xyxy input, continuous coordinates). ``weights`` multiply
    (t_x, t_y, t_w, t_h); the paper's Eq. (2) is weights 1."""
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xa, ya = anchors[:, 0] + 0.5 * wa, anchors[:, 1] + 0.5 * ha
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    x, y = boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h
    wx, wy, ww, wh = weights
    return torch.stack([wx * (x - xa) / wa, wy * (y - ya) / ha, ww * torch.log(w / wa), wh * torch.log(h / ha)], 1)


def decode(t: torch.Tensor, anchors: torch.Tensor, weights=(1.0, 1.0, 1.0, 1.0),
           clip: float = math.log(1000.0 / 16)) -> torch.Tensor:
    """The inverse of Eq. (2): offsets ``[N, 4]`` applied to ``anchors`` ``[N, 4]`` -> xyxy boxes.

    t_w and t_h are clamped at ``clip`` before the exponential (a numerical guard, no counterpart in the paper)."""
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xa, ya = anchors[:, 0] + 0.5 * wa, anchors[:, 1] + 0.5 * ha
    wx, wy, ww, wh = weights
    tx, ty = t[:, 0] / wx, t[:, 1] / wy
    tw, th = (t[:, 2] / ww).clamp(max=clip), (t[:, 3] / wh).clamp(max=clip)
    x, y = tx * wa + xa, ty * ha + ya
    w, h = torch.exp(tw) * wa, torch.exp(th) * ha
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=1)


# ------------------------------------------------------------------------------------------------ RPN
class RPNHead(nn.Module):
    """§3.1, Fig. 3: an n x n (n = 3) sliding window mapped to a 512-d feature (ReLU), then two sibling
    1x1 layers: cls, 2k objectness scores (two-class softmax), and reg, 4k box offsets."""

    def __init__(self, in_channels: int, mid_channels: int, k: int, softmax: bool = True, init_std: float = 0.01):
        super().__init__()
        self.k, self.softmax = k, softmax
        self.conv = nn.Conv2d(in_channels, mid_channels, 3, padding=1)          # "n = 3"
        self.cls = nn.Conv2d(mid_channels, (2 if softmax else 1) * k, 1)       # 2k scores (or k logistic)
        self.reg = nn.Conv2d(mid_channels, 4 * k, 1)                             # 4k coordinates
        for m in (self.conv, self.cls, self.reg):                                # §3.1.3: N(0, 0.01), zero bias
            nn.init.normal_(m.weight, std=init_std)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [N, C, H, W]`` -> (objectness logits ``[N, H*W*k, 2]`` (or ``[N, H*W*k]``), offsets ``[N, H*W*k, 4]``),
        flattened position-major, anchor-minor as :func:`grid_anchors`."""
        h = F.relu(self.conv(x))
        cls = self.cls(h)
        if self.softmax:  # channel layout (a, 2): anchor a's background and object scores side by side
            cls = rearrange(cls, "n (k two) h w -> n (h w k) two", two=2)
        else:
            cls = rearrange(cls, "n k h w -> n (h w k)")
        reg = rearrange(self.reg(h), "n (k four) h w -> n (h w k) four", four=4)
        return cls, reg

    def objectness(self, cls: torch.Tensor) -> torch.Tensor:
        """The probability of "object" for each anchor, ``[N, A]``."""
        return cls.softmax(-1)[..., 1] if self.softmax else cls.sigmoid()


def greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, max_keep: int | None = None
               ) -> torch.Tensor:
    """§3.3: "we adopt non-maximum suppression (NMS) on the proposal regions based on their cls scores",
    greedy, highest score first, suppressing IoU > ``iou_threshold``; stops after ``max_keep`` boxes.

    The same greedy rule as ``shared.boxes.nms`` (ties keep the lower index), with the sequential part run on
    a NumPy copy of the suppression matrix: the proposal layer calls it for every training image."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    over = (box_iou(boxes[order], boxes[order]) > iou_threshold).cpu().numpy()        # [N, N], score order
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    limit = len(order) if max_keep is None else max_keep
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) >= limit:
            break
        suppressed |= over[i]
    return order[torch.as_tensor(keep, dtype=torch.long, device=boxes.device)]


class ProposalLayer(nn.Module):
    """§3.3: turn the RPN's outputs into proposals: decode the offsets on the anchors (Eq. (2)), clip to the
    image, drop boxes smaller than ``min_size``, keep the ``pre_nms_top_n`` highest scores, NMS at IoU 0.7,
    keep the top ``post_nms_top_n`` (2,000 when training, 300 when testing)."""

    def __init__(self, cfg: FasterRCNNConfig):
        super().__init__()
        self.cfg = cfg

    def forward(self, anchors: torch.Tensor, scores: torch.Tensor, offsets: torch.Tensor,
                image_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """One image: ``anchors [A, 4]``, ``scores [A]``, ``offsets [A, 4]`` -> (proposals ``[P, 4]``, scores ``[P]``)."""
        cfg = self.cfg
        pre = cfg.pre_nms_top_n_train if self.training else cfg.pre_nms_top_n_test
        post = cfg.post_nms_top_n_train if self.training else cfg.post_nms_top_n_test
        boxes = clip_boxes_to_image(decode(offsets, anchors, clip=cfg.bbox_clip), image_size)
        keep = remove_small_boxes(boxes, cfg.min_size)
        boxes, scores = boxes[keep], scores[keep]
        top = scores.topk(min(pre, len(scores))).indices
        boxes, scores = boxes[top], scores[top]
        keep = greedy_nms(boxes, scores, cfg.nms_thresh, post)
        return boxes[keep], scores[keep]


# ------------------------------------------------------------------------------------------------ RoI pooling
def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """C's ``round`` (halves away from zero), as Caffe's RoIPool rounds RoI corners; no counterpart in the paper."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def roi_pool(features: torch.Tensor, rois: torch.Tensor, output_size: int, spatial_scale: float,
             chunk_elements: int = 1 << 24) -> torch.Tensor:
    """RoI max pooling (Fast R-CNN §2.1, used by §3.2): each RoI, projected onto the feature map and rounded
    to whole cells, is divided into an ``output_size`` x ``output_size`` grid of sub-windows, each max-pooled.

    ``features [N, C, H, W]``, ``rois [R, 5]`` (batch index, x1, y1, x2, y2 in image pixels) -> ``[R, C, s, s]``.
    Sub-window edges follow Caffe's RoIPool (floor of the start, ceil of the end); an empty sub-window gives 0.

    Vectorised: every sub-window is read as a fixed K_h x K_w block of cells (K the largest sub-window
    extent), indices past a sub-window's end repeat its last cell (which leaves the max unchanged); the
    argmax cell of each sub-window and channel is found without autograd (the first maximal cell in
    row-major order, as Caffe's argmax), then one ``gather`` reads the pooled values, so the gradient
    goes to the argmax cells only, as in Caffe. RoIs are processed in chunks of about ``chunk_elements``
    candidate values."""
    n, c, H, W = features.shape
    s = output_size
    if len(rois) == 0:
        return features.new_zeros(0, c, s, s)
    with torch.no_grad():
        corners = _round_half_away(rois[:, 1:].float() * spatial_scale).long()        # [R, 4] in cells
        x1, y1, x2, y2 = corners.unbind(1)
        rw, rh = (x2 - x1 + 1).clamp(min=1), (y2 - y1 + 1).clamp(min=1)
        bw, bh = rw.float() / s, rh.float() / s                                         # sub-window size
        i = torch.arange(s, device=rois.device, dtype=torch.float32)

        def edges(start, bin_size, limit):                                              # [R, s] each
            lo = (torch.floor(i[None] * bin_size[:, None]).long() + start[:, None]).clamp(0, limit)
            hi = (torch.ceil((i[None] + 1) * bin_size[:, None]).long() + start[:, None]).clamp(0, limit)
            return lo, hi

        ws, we = edges(x1, bw, W)
        hs, he = edges(y1, bh, H)
        Kw, Kh = int((we - ws).max()), int((he - hs).max())
        if Kw <= 0 or Kh <= 0:
            return features.new_zeros(len(rois), c, s, s)
        xs = torch.minimum(ws[:, :, None] + torch.arange(Kw, device=rois.device), we[:, :, None] - 1).clamp(0, W - 1)
        ys = torch.minimum(hs[:, :, None] + torch.arange(Kh, device=rois.device), he[:, :, None] - 1).clamp(0, H - 1)
        b = rois[:, 0].long()
        # flat index of cell (y, x) of image b in the [(n h w), c] view: [R, s (rows), s (cols), Kh * Kw]
        flat = rearrange((b[:, None, None, None, None] * H + ys[:, :, None, :, None]) * W + xs[:, None, :, None, :],
                         "r i j kh kw -> r i j (kh kw)")
        empty = (he <= hs)[:, :, None] | (we <= ws)[:, None, :]                        # [R, s, s]
        table = rearrange(features.detach(), "n c h w -> (n h w) c")
        step = max(1, chunk_elements // (s * s * Kh * Kw * c))
        argmax = []
        for k in range(0, len(rois), step):
            cand = table[flat[k:k + step]]                                              # [r, s, s, Kh * Kw, C]
            j = cand.max(dim=3, keepdim=True).indices                                   # first maximal cell
            argmax.append(torch.gather(flat[k:k + step, :, :, :, None].expand_as(cand), 3, j)[:, :, :, 0])
        argmax = rearrange(torch.cat(argmax), "r i j c -> (r i j) c")                 # [R * s * s, C]
    pooled = torch.gather(rearrange(features, "n c h w -> (n h w) c"), 0, argmax)      # [R * s * s, C]
    pooled = rearrange(pooled, "(r i j) c -> r i j c", i=s, j=s).masked_fill(empty[..., None], 0.0)
    return rearrange(pooled, "r i j c -> r c i j")


class FastRCNNHead(nn.Module):
    """§3.2 (the detector of Girshick 2015): RoI pooling to 7x7, fc6 and fc7 (ReLU, dropout), then a
    (C + 1)-way classifier and class-specific box regressors (4 (C + 1) outputs)."""

    def __init__(self, in_channels: int, roi_size: int, fc_dim: int, num_classes: int, dropout: float,
                 init_std: float = 0.01):
        super().__init__()
        self.fc6 = nn.Linear(in_channels * roi_size * roi_size, fc_dim)
        self.fc7 = nn.Linear(fc_dim, fc_dim)
        self.drop = nn.Dropout(dropout)
        self.cls = nn.Linear(fc_dim, num_classes + 1)
        self.bbox = nn.Linear(fc_dim, 4 * (num_classes + 1))
        nn.init.normal_(self.cls.weight, std=init_std)
        nn.init.normal_(self.bbox.weight, std=0.001)   # Fast R-CNN: the regressor from N(0, 0.001)
        nn.init.zeros_(self.cls.bias)
        nn.init.zeros_(self.bbox.bias)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``pooled [R, C, s, s]`` -> (class logits ``[R, C+1]``, box offsets ``[R, C+1, 4]``)."""
        h = self.drop(F.relu(self.fc6(pooled.flatten(1))))
        h = self.drop(F.relu(self.fc7(h)))
        return self.cls(h), rearrange(self.bbox(h), "r (c four) -> r c four", four=4)


# ------------------------------------------------------------------------------------------------ backbones
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)  # to conv5_3


class VGG16Features(nn.Module):
    """Simonyan & Zisserman's VGG-16 (configuration D) up to conv5_3 + ReLU: 13 conv layers, 4 max-pools,
    total stride 16, 512 channels (§4.1: "the 13 shareable convolutional layers"). Layer indices match
    torchvision's ``vgg16().features[:30]`` so its weights import by name (``interop.py``)."""

    out_channels = 512
    stride = 16

    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for v in VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x)


class CPUBackbone(nn.Module):
    """A small stride-16 backbone for CPU runs (no counterpart in the paper): four stages of
    conv3x3-BN-ReLU, each followed by a 2x2 max-pool except the last, which strides by 2 in its conv."""

    stride = 16

    def __init__(self, widths=(32, 64, 128, 128)):
        super().__init__()
        layers, c = [], 3
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2, 2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.out_channels = c

    def forward(self, x):
        return self.features(x)


# ------------------------------------------------------------------------------------------------ the detector
@dataclass
class Detections:
    """What :meth:`FasterRCNN.forward` returns for one image (no counterpart in the paper)."""
    boxes: torch.Tensor                 # [D, 4] xyxy in image pixels
    scores: torch.Tensor                # [D]
    labels: torch.Tensor                # [D] in 1..C (0 is background)
    proposals: torch.Tensor = field(default_factory=lambda: torch.empty(0, 4))


class FasterRCNN(nn.Module):
    """Fig. 2: one network for detection; the RPN module tells the Fast R-CNN module where to look.

    ``rpn_backbone`` is the RPN's own copy of the convolutions when they are not shared (steps 1-2 of the
    4-step alternating training, §3.2); ``None`` means shared (the final, unified network)."""

    def __init__(self, cfg: FasterRCNNConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = VGG16Features() if cfg.backbone == "vgg16" else CPUBackbone(cfg.cpu_widths)
        if cfg.backbone not in ("vgg16", "cpu"):
            raise ValueError(f"backbone={cfg.backbone!r}: use vgg16 or cpu")
        c = self.backbone.out_channels
        self.register_buffer("base_anchors", cell_anchors(cfg.anchor_sizes, cfg.anchor_ratios), persistent=False)
        self.k = len(self.base_anchors)
        self.rpn = RPNHead(c, cfg.rpn_channels, self.k, cfg.rpn_softmax, cfg.init_std)
        self.proposals = ProposalLayer(cfg)
        self.head = FastRCNNHead(c, cfg.roi_size, cfg.fc_dim, cfg.num_classes, cfg.dropout, cfg.init_std)
        self.rpn_backbone: nn.Module | None = None

    def anchors(self, feat_h: int, feat_w: int) -> torch.Tensor:
        """All anchors of a feature map, ``[feat_h * feat_w * k, 4]`` (§3.1.1)."""
        return grid_anchors(feat_h, feat_w, self.cfg.stride, self.base_anchors.cpu(), self.cfg.anchor_offset
                            ).to(self.base_anchors.device)

    def run_rpn(self, images: torch.Tensor, features: torch.Tensor | None = None, proposals: bool = True,
                shared: bool = True):
        """The RPN on a batch: (features, anchors ``[A, 4]``, logits, offsets, proposals per image).

        ``proposals=False`` skips the proposal layer (an RPN-only training step needs none); ``shared=False``
        skips the detector's convolutions when the RPN has its own (step 1 of §3.2's alternating scheme)."""
        if features is not None:
            feats = features
        elif shared or self.rpn_backbone is None:
            feats = self.backbone(images)
        else:
            feats = None
        rpn_feats = self.rpn_backbone(images) if self.rpn_backbone is not None else feats
        cls, reg = self.rpn(rpn_feats)
        anchors = self.anchors(*rpn_feats.shape[-2:])
        props = []
        if proposals:
            scores = self.rpn.objectness(cls).detach().float()
            size = tuple(images.shape[-2:])
            props = [self.proposals(anchors, scores[i], reg[i].detach().float(), size)[0] for i in range(len(images))]
        return feats, anchors, cls, reg, props

    def detect(self, features: torch.Tensor, proposals: list[torch.Tensor]):
        """The Fast R-CNN head on each image's proposals: (class logits, box offsets, rois ``[R, 5]``)."""
        rois = torch.cat([torch.cat([torch.full((len(p), 1), float(i), device=p.device), p], 1)
                          for i, p in enumerate(proposals)])
        pooled = roi_pool(features, rois, self.cfg.roi_size, 1.0 / self.cfg.stride)
        logits, offsets = self.head(pooled)
        return logits, offsets, rois

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> list[Detections]:
        """Inference (§3): proposals, then per class decode, clip, threshold, NMS at 0.3, top 100 per image."""
        cfg = self.cfg
        feats, _, _, _, props = self.run_rpn(images)
        logits, offsets, rois = self.detect(feats, props)
        probs = logits.softmax(-1)
        out, size = [], tuple(images.shape[-2:])
        for i, p in enumerate(props):
            sel = rois[:, 0] == i
            pr, off, boxes_in = probs[sel], offsets[sel], rois[sel, 1:]
            C1 = pr.shape[1]
            boxes = decode(off.reshape(-1, 4), boxes_in.repeat_interleave(C1, 0), cfg.box_weights, cfg.bbox_clip)
            boxes = clip_boxes_to_image(boxes, size).reshape(-1, C1, 4)[:, 1:]              # drop background
            scores, labels = pr[:, 1:], torch.arange(1, C1, device=pr.device).expand(len(pr), -1)
            boxes, scores, labels = boxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
            keep = torch.where(scores > cfg.det_score_thresh)[0]
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = remove_small_boxes(boxes, 1e-2)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = batched_nms(boxes, scores, labels, cfg.det_nms_thresh)[:cfg.det_per_image]
            out.append(Detections(boxes[keep], scores[keep], labels[keep], p))
        return out


# ------------------------------------------------------------------------------------------------ variants
def faster_rcnn_vgg16(num_classes: int = 20, **kw) -> FasterRCNN:
    """The paper's VGG-16 model (§4.1, Table 3): 3 scales x 3 ratios, 512-d RPN, fc6/fc7 of 4096."""
    return FasterRCNN(FasterRCNNConfig(backbone="vgg16", num_classes=num_classes, **kw))


def cpu_config(num_classes: int = 1, **kw) -> FasterRCNNConfig:
    """The CPU-sized configuration (no counterpart in the paper): the small stride-16 backbone, a 128-d RPN,
    fc layers of 256, and anchors scaled for ~256-pixel images (areas 32², 64², 128²; see README)."""
    cfg = dict(backbone="cpu", num_classes=num_classes, anchor_sizes=(32.0, 64.0, 128.0), rpn_channels=128,
               fc_dim=256, min_size=4.0, pre_nms_top_n_train=2000, pre_nms_top_n_test=1000,
               post_nms_top_n_train=300, post_nms_top_n_test=100)
    cfg.update(kw)
    return FasterRCNNConfig(**cfg)


def faster_rcnn_cpu(num_classes: int = 1, **kw) -> FasterRCNN:
    """A CPU-sized Faster R-CNN (no counterpart in the paper), built from :func:`cpu_config`."""
    return FasterRCNN(cpu_config(num_classes, **kw))


VARIANTS = {
    "faster-rcnn-vgg16": faster_rcnn_vgg16,
    "faster-rcnn-cpu": faster_rcnn_cpu,
}
