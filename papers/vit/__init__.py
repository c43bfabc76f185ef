"""Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
ICLR 2021 (arXiv:2010.11929).

Summary: a standard Transformer encoder applied to a sequence of linearly embedded 16x16 image patches
(plus a class token and learned position embeddings) matches or beats convolutional networks when it
is pre-trained on enough data (14M-300M images), while on small data the CNN's inductive biases win.
"""

CITATION = ("Alexey Dosovitskiy, Lucas Beyer, Alexander Kolesnikov, Dirk Weissenborn, Xiaohua Zhai, Thomas "
            "Unterthiner, Mostafa Dehghani, Matthias Minderer, Georg Heigold, Sylvain Gelly, Jakob Uszkoreit and "
            "Neil Houlsby. An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale. ICLR 2021. "
            "arXiv:2010.11929.")
