def test_an_order_reserves_stock_from_the_first_warehouse_that_holds_it(api):
    api.warehouse("NJ1")
    api.warehouse("IL1")
    api.product("MUG-1")
    api.channel("web", warehouses=["NJ1", "IL1"])
    api.receive("IL1", "MUG-1", 5)
    order = api.order([("MUG-1", 2)])
    assert order["status"] == "confirmed"
    assert order["lines"][0]["reserved"] == 2
    assert order["warehouses"] == ["IL1"]
    stock = api.stock("MUG-1")
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (5, 2, 3)
