"""BERT: deep bidirectional Transformer encoders pre-trained with masked LM and next-sentence prediction.

Devlin, J., Chang, M.-W., Lee, K. & Toutanova, K. (2019). "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding." NAACL-HLT 2019, pp. 4171-4186. arXiv:1810.04805.

Summary: a post-LN Transformer encoder over token + segment + position embeddings is pre-trained on
unlabelled documents with a masked language model (15% of WordPiece tokens, 80/10/10) plus next-sentence
prediction (§3.1), then fine-tuned end to end with one extra output layer per task (§3.2, §4).
"""
