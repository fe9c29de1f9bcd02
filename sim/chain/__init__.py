"""The node side: the local chains (`node`), the one JSON-RPC batch path (`blockbuilder`) and
web3 client (`client`), the one ABI path (`abi`), artifacts (`artifacts`), the one deployer
(`deploy`), the suites (`suite`, `mainnet`), fork sessions (`session`), and the chain engine:
scenarios on real contracts with parity every block (`backend`, `parity`, `bundles`).

Never imports ape: Ape's networks reach it through a resolver the caller passes."""
