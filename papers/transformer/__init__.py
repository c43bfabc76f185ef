"""Vaswani, Shazeer, Parmar, Uszkoreit, Jones, Gomez, Kaiser and Polosukhin, "Attention Is All You
Need", Advances in Neural Information Processing Systems 30 (NeurIPS 2017), arXiv:1706.03762.

The Transformer: an encoder-decoder built from multi-head scaled dot-product attention and
position-wise feed-forward layers only, trained with label smoothing and a warmup schedule.
"""
CITATION = ("Vaswani, A., Shazeer, N., Parmar, N., Uszkoreit, J., Jones, L., Gomez, A. N., Kaiser, L. and "
            "Polosukhin, I. Attention Is All You Need. NeurIPS 2017. arXiv:1706.03762.")
SUMMARY = "Encoder-decoder of multi-head self-attention and position-wise FFNs (post-LN), for translation."
