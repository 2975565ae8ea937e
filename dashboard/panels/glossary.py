"""The glossary and references: each term the pages use in one plain line, and the full
citations of the methods they name by authors and year.

:func:`glossary_markdown` is the text (pure, so a test can read it);
:func:`glossary_expander` draws it in an expander, in the sidebar on every page.
"""

from __future__ import annotations

import streamlit as st

#: (term, its meaning in one plain line), in the order a newcomer meets them
GLOSSARY: tuple[tuple[str, str], ...] = (
    ("Neuron (unit)", "One number in the model's memory; a layer of 256 units has 256."),
    ("Activation", "A neuron's value after reading a token; the colour of the highlighting."),
    (
        "h, c and the gates",
        "h is what a layer passes on; an LSTM also keeps a cell state c, and its gates "
        "i, f, o (GRU z, r) decide how much to write, forget and show.",
    ),
    ("Token", "One character or one word, whichever the model reads at a time."),
    (
        "Feature",
        "A property of each token you choose: inside a string, a space, the bracket depth.",
    ),
    (
        "Effect size",
        "How cleanly a neuron tells the feature's tokens from the others, 0 (not at all) to 1.",
    ),
    (
        "AUROC",
        "The chance that the neuron is higher on a random token with the feature than on "
        "one without it: 0.5 means no link, 1 or 0 a perfect one.",
    ),
    (
        "r",
        "The correlation of a neuron with a numeric feature (bracket depth, position in "
        "line): 0 no link, ±1 a straight-line one.",
    ),
    (
        "R (relevance)",
        "Dahlberg's relevance score: how far the neuron's mean on the feature's tokens is "
        "from its mean elsewhere, plus how sharply it spikes on them; the layer's best is 1.",
    ),
    (
        "p",
        "How often the feature, slid along the text to random places, matched the neuron "
        "as well as the real one (the circular-shift test): small p, unlikely by chance.",
    ),
    (
        "q",
        "p corrected for testing every neuron of the layer at once (Benjamini & Hochberg "
        "1995); q < 0.05 keeps the share of false finds under 5 %.",
    ),
    (
        "95 % interval",
        "Where the effect would fall on most other texts like this one, from resampling "
        "blocks of the text (block bootstrap, Künsch 1989).",
    ),
    (
        "Finding",
        "A neuron whose effect is large, survives the q test and whose interval stays "
        "clear of no link.",
    ),
    (
        "Ablation",
        "Switching neurons off to see how much worse the model predicts; the control "
        "switches off as many random, unrelated neurons.",
    ),
    (
        "Amplitude spectrum (Fourier)",
        "How strongly a neuron goes up and down at each rhythm: 0.5 cycles per token is "
        "a period of 2 tokens.",
    ),
    (
        "KL divergence",
        "How unlike two distributions of values are, in bits (0 = alike). Forward KL(P‖Q) "
        "weighs where the neuron's values P lie, reverse KL(Q‖P) where the reference Q "
        "lies; the sum (Jeffreys) counts both.",
    ),
    ("Dead neuron", "A neuron that stays at (almost) zero on nearly every token."),
    (
        "Expectancy",
        "How probable the model found each token before it came (Ryšánek 2023): red "
        "expected, blue surprising.",
    ),
    (
        "Expected response",
        "The average change of a neuron when the model reads a given token (Ming et al. 2017).",
    ),
    (
        "Memory chip",
        "A group of neurons that respond alike to the same tokens (Ming et al. 2017).",
    ),
    (
        "Preserved (glyphs)",
        "How much of a chip's old state is still there after a token: the overlap of old "
        "and new state, or the keep gate (LSTM f, GRU z).",
    ),
    (
        "Expected prediction",
        "What a classifier would answer if the sentence ended at this word (Garcia, Munz "
        "& Weiskopf 2021).",
    ),
    (
        "Bits per character, perplexity",
        "How surprised the model is by held-out text on average; lower is better, and "
        "the unigram figure beside it is a model that only knows token counts.",
    ),
    (
        "PCA, t-SNE, UMAP",
        "Ways to draw many-dimensional states as 2-D points: PCA is instant and keeps the "
        "broad shape, t-SNE and UMAP keep near neighbours near but take longer.",
    ),
    (
        "AMI",
        "Adjusted mutual information: how well clusters match groups such as the token "
        "read, 1 exactly, 0 no better than chance (Vinh, Epps & Bailey 2010).",
    ),
    (
        "Pattern search",
        "Find other places in the text where the same neurons are on as in a span you "
        "picked (Strobelt et al. 2018).",
    ),
    (
        "Input saliency",
        "How much each input token pushed one output (a next token's probability, a "
        "class): gradient x input (Simonyan et al. 2014; Shrikumar et al. 2016), or "
        "integrated gradients, whose parts add up to the output's change from an empty "
        "input (Sundararajan, Taly & Yan 2017).",
    ),
)

#: full citations of the methods the pages name, by first author
REFERENCES: tuple[str, ...] = (
    "Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate: a "
    "practical and powerful approach to multiple testing. *Journal of the Royal "
    "Statistical Society B* 57(1), 289–300.",
    "Dahlberg, J. H. (c. 2020). Master's thesis on representing, transforming and "
    "visualizing the neural activity of recurrent networks for text prediction "
    "(relevance, Fourier spectra, automatic neuron detection, random search). KTH Royal "
    "Institute of Technology, Stockholm. Code: "
    "github.com/johndah/Visualization-of-Recurrent-Neural-Networks.",
    "Garcia, R., Munz, T. & Weiskopf, D. (2021). Visual analytics tool for the "
    "interpretation of hidden states in recurrent neural networks. *Visual Computing for "
    "Industry, Biomedicine, and Art* 4. doi:10.1186/s42492-021-00090-0.",
    "Karpathy, A., Johnson, J. & Fei-Fei, L. (2015). Visualizing and Understanding "
    "Recurrent Networks. arXiv:1506.02078.",
    "Künsch, H. R. (1989). The jackknife and the bootstrap for general stationary "
    "observations. *The Annals of Statistics* 17(3), 1217–1241.",
    "Ming, Y., Cao, S., Zhang, R., Li, Z., Chen, Y., Song, Y. & Qu, H. (2017). "
    "Understanding Hidden Memories of Recurrent Neural Networks. *IEEE Conference on "
    "Visual Analytics Science and Technology (VAST)*.",
    "Ryšánek, J. (2023). Visualizing Neural Network Used as a Language Model. Bachelor's "
    "thesis, Brno University of Technology, Faculty of Information Technology.",
    "Shrikumar, A., Greenside, P., Shcherbina, A. & Kundaje, A. (2016). Not Just a Black "
    "Box: Learning Important Features Through Propagating Activation Differences. "
    "arXiv:1605.01713.",
    "Simonyan, K., Vedaldi, A. & Zisserman, A. (2014). Deep Inside Convolutional "
    "Networks: Visualising Image Classification Models and Saliency Maps. ICLR Workshop. "
    "arXiv:1312.6034.",
    "Strobelt, H., Gehrmann, S., Pfister, H. & Rush, A. M. (2018). LSTMVis: A Tool for "
    "Visual Analysis of Hidden State Dynamics in Recurrent Neural Networks. *IEEE "
    "Transactions on Visualization and Computer Graphics* 24(1), 667–676.",
    "Sundararajan, M., Taly, A. & Yan, Q. (2017). Axiomatic Attribution for Deep "
    "Networks. *Proceedings of the 34th International Conference on Machine Learning "
    "(ICML)*, 3319–3328.",
    "Vinh, N. X., Epps, J. & Bailey, J. (2010). Information theoretic measures for "
    "clusterings comparison. *Journal of Machine Learning Research* 11, 2837–2854.",
)


def glossary_markdown() -> str:
    """The glossary (one bullet per term) and the references, as Markdown."""
    terms = "\n".join(f"- **{term}**: {meaning}" for term, meaning in GLOSSARY)
    refs = "\n".join(f"- {ref}" for ref in REFERENCES)
    return f"{terms}\n\n**References**\n\n{refs}"


def glossary_expander() -> None:
    """An expander "Glossary and references" in the current container (the sidebar when
    called inside ``with st.sidebar``)."""
    with st.expander("Glossary and references"):
        st.markdown(glossary_markdown())
