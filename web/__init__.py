"""HTTP delivery: blueprints per audience. Views parse input, call ``node.services``, render."""
