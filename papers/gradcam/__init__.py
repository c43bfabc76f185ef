"""Selvaraju, Cogswell, Das, Vedantam, Parikh & Batra, "Grad-CAM: Visual Explanations from Deep Networks
via Gradient-based Localization", ICCV 2017 (arXiv:1610.02391).

Summary: weighting a convolutional layer's feature maps by the spatially averaged gradients of a class
score (Eqs. 1-2) gives a class-discriminative localisation map for any CNN without changing or
re-training it; multiplied with guided backpropagation it gives high-resolution "Guided Grad-CAM".
"""

CITATION = ("Ramprasaath R. Selvaraju, Michael Cogswell, Abhishek Das, Ramakrishna Vedantam, Devi Parikh and "
            "Dhruv Batra. Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization. "
            "ICCV 2017, pp. 618-626. arXiv:1610.02391.")
