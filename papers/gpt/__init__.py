"""GPT: generative pre-training of a decoder-only Transformer, then discriminative fine-tuning.

Radford, A., Narasimhan, K., Salimans, T. & Sutskever, I. (2018). "Improving Language Understanding by
Generative Pre-Training." OpenAI technical report. GPT-2 small as a configuration: Radford, A., Wu, J.,
Child, R., Luan, D., Amodei, D. & Sutskever, I. (2019). "Language Models are Unsupervised Multitask Learners."

Summary: a 12-layer masked-self-attention language model pre-trained on unlabelled text (L1, Eq. 1) is
fine-tuned with a linear head on each labelled task (L2, Eq. 4), optionally keeping the LM loss as an
auxiliary objective (L3 = L2 + lambda * L1, Eq. 5).
"""
