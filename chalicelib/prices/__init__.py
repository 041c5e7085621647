"""Price sync: three price levels per SKU, Ozon's price rules and the below-cost guard."""
