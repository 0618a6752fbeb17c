require 'json'

module Shop
  # A handler given as a class method: `shop.Shop::Orders.create`.
  class Orders
    def self.create(event:, context:)
      order = JSON.parse(event['body'])
      { statusCode: 201, body: JSON.generate(created: order['item'], by: name) }
    end
  end
end
