# A handler in a subfolder that always fails.
def raise_it(event:, context:)
  raise ArgumentError, 'ruby was asked to raise'
end
