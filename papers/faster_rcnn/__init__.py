"""Ren, He, Girshick & Sun, "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal Networks",
NeurIPS 2015 / TPAMI 2017 (arXiv:1506.01497).

Summary: a Region Proposal Network (RPN) shares the convolutional features of the detector, slides a
small network over the last shared feature map and predicts, at every position, objectness scores and
box refinements for k = 9 reference boxes (anchors); its proposals feed a Fast R-CNN detection head.
"""

CITATION = ("Shaoqing Ren, Kaiming He, Ross Girshick and Jian Sun. Faster R-CNN: Towards Real-Time Object "
            "Detection with Region Proposal Networks. NeurIPS 2015; TPAMI 39(6), 2017. arXiv:1506.01497.")
