from infvideo.eval.matching import minilm_embedder, nearest_option


def test_real_embedder_picks_the_paraphrased_option_among_five():
    options = ["the man opens the door", "a dog sleeps on the sofa", "the girl rides a bicycle", "two cats fight", "the car stops at the light"]
    assert nearest_option("A young girl is cycling down the street.", options) == "C"
    assert nearest_option("The puppy is napping on the couch", options) == "B"
    assert nearest_option("vehicle halts at a red traffic signal", options) == "E"  # the fifth option is reachable
    assert nearest_option("   ", options) is None
    assert minilm_embedder()(["x"]).shape == (1, 384)


def test_embedder_is_pluggable():
    fake = lambda texts: [[1.0, 0.0] if "yes" in t else [0.0, 1.0] for t in texts]  # noqa: E731
    assert nearest_option("yes please", ["no", "yes"], embed=fake) == "B"
