"""The public names of the agent package: sorted, all importable, nothing private."""

import agent
import agent.llm


def test_exported_members() -> None:
    for module in (agent, agent.llm):
        names = module.__all__
        assert names == sorted(names)
        assert all(not n.startswith("_") for n in names)
        for name in names:
            assert getattr(module, name) is not None
    public = {n for n in dir(agent) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(agent.__all__)
