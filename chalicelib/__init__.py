"""ozon-seller-ops: Ozon seller routine on AWS serverless primitives."""
