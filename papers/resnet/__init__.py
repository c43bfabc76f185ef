"""He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (arXiv:1512.03385).

Summary: learning residual functions F(x) = H(x) - x through identity shortcuts lets very deep
convolutional networks (34-152 layers on ImageNet, up to 1202 on CIFAR-10) train without the
degradation that makes deeper plain networks train worse than shallower ones.
"""

CITATION = ("Kaiming He, Xiangyu Zhang, Shaoqing Ren and Jian Sun. Deep Residual Learning for Image "
            "Recognition. CVPR 2016, pp. 770-778. arXiv:1512.03385.")
