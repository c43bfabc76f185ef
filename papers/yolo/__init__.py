"""Redmon, Divvala, Girshick & Farhadi, "You Only Look Once: Unified, Real-Time Object Detection", CVPR 2016
(arXiv:1506.02640).

Summary: one convolutional network looks at the whole image once and regresses, for an S x S grid,
B boxes with confidences and C class probabilities per cell, trained end to end with a sum-squared
error (Eq. (3)); it runs in real time (45 FPS, Fast YOLO 155 FPS) at 63.4 mAP on VOC 2007.
"""

CITATION = ("Joseph Redmon, Santosh Divvala, Ross Girshick and Ali Farhadi. You Only Look Once: Unified, "
            "Real-Time Object Detection. CVPR 2016, pp. 779-788. arXiv:1506.02640.")
