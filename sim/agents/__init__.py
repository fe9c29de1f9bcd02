"""Agents: the generic kinds (`sim.agents.kinds`), each module holding an agent class and its
scenario config. Venue-specific agents live in their venue's package."""
