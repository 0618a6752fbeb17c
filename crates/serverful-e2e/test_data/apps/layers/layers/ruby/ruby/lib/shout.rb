# A Ruby library shipped in a layer, found on the load path as Lambda puts /opt/ruby/lib there.
module Shout
  def self.shout(text)
    "#{text.upcase}!"
  end
end
