# Serverful's Ruby bootstrap: loads the handler named by _HANDLER from LAMBDA_TASK_ROOT
# and serves invocations from the server at AWS_LAMBDA_RUNTIME_API, one at a
# time, like AWS's Ruby runtime: the handler is called with `event:` and `context:`
# keyword arguments, its result goes back as JSON, errors are reported as
# `Function<ErrorClass>` (or `Init<ErrorClass>` while loading), and gems are found where
# Lambda looks for them (`vendor/bundle` in the code, `/opt/ruby` in layers).
#
# Only the standard library is used, and the syntax stays within Ruby 2.5, so that the
# bootstrap runs on whichever Ruby the host has.

require 'rbconfig'

module ServerfulRuntime
  # Lambda's load and gem paths, for the Ruby that runs: the code folder and layers'
  # `ruby/lib` on the load path; gems bundled into `vendor/bundle` and layers' `ruby/gems`,
  # then the interpreter's own gems (the trailing separator keeps them). Lambda sets these
  # before Ruby starts; here they are set before anything else is required, and kept for
  # the processes the function starts.
  def self.set_paths(task_root)
    abi = RbConfig::CONFIG['ruby_version']
    # Layers are at /opt, as on Lambda; without a sandbox the server names their folder.
    opt = ENV['_SERVERFUL_LAYERS'] || '/opt'
    unless ENV['GEM_PATH']
      gem_folders = ["#{task_root}/vendor/bundle/ruby/#{abi}", "#{opt}/ruby/gems/#{abi}"]
      ENV['GEM_PATH'] = gem_folders.join(File::PATH_SEPARATOR) + File::PATH_SEPARATOR
      # RubyGems read the environment when Ruby started; make it read it again.
      Gem.clear_paths if defined?(Gem) && Gem.respond_to?(:clear_paths)
    end
    libraries = [task_root, "#{opt}/ruby/lib"]
    existing = (ENV['RUBYLIB'] || '').split(File::PATH_SEPARATOR)
    ENV['RUBYLIB'] = (libraries + existing).uniq.join(File::PATH_SEPARATOR)
    libraries.reverse_each { |folder| $LOAD_PATH.unshift(folder) unless $LOAD_PATH.include?(folder) }
  end
end

ServerfulRuntime.set_paths(ENV['LAMBDA_TASK_ROOT'] || Dir.pwd)

require 'json'
# Not used here, but loaded by AWS's Ruby runtime, so handlers may use it unrequired.
require 'net/http'
require 'socket'
require 'stringio'
begin
  # AWS's runtime formats `Logger` output with the request id; without the library (it
  # leaves the default gems in newer Rubies) loggers simply keep Ruby's own format.
  require 'logger'
rescue LoadError
  nil
end

# Log lines appear as they are written, not when a buffer fills.
$stdout.sync = true
$stderr.sync = true

module ServerfulRuntime
  # Lambda's limit on frames in a reported stack trace.
  MAX_FRAMES = 100

  class << self
    # The request being served, for log lines written while it runs.
    attr_accessor :request_id
  end

  # Serverful's frame channel to the server, on a connection to the Runtime API's address
  # (the runtime crate's frames.rs documents it): a 9-byte prefix (kind, header length,
  # body length, big-endian), the header, the body. The server writes an event (`E`); the
  # answer (`r` response, `e` error) also asks for the next one.
  class Channel
    PREFACE = "\0serverful-frames/1\n".b.freeze
    NEXT = 'n'.freeze
    RESPONSE = 'r'.freeze
    ERROR = 'e'.freeze
    INIT_ERROR = 'i'.freeze
    EVENT = 'E'.freeze

    def initialize(address)
      host, _, port = address.rpartition(':')
      @socket = TCPSocket.new(host.empty? ? '127.0.0.1' : host, Integer(port))
      @socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
      @socket.sync = true
      @socket.write(PREFACE)
    end

    def send_frame(kind, header = '', body = '')
      header = header.b
      body = body.b
      @socket.write([kind, header.bytesize, body.bytesize].pack('a1NN') + header + body)
    end

    # The next frame from the server: [kind, header, body].
    def receive
      prefix = read(9)
      kind, header_length, body_length = prefix.unpack('a1NN')
      [kind, read(header_length), read(body_length)]
    end

    private

    def read(size)
      return ''.b if size.zero?
      data = @socket.read(size)
      raise EOFError, 'the server closed the Runtime API connection' if data.nil? || data.bytesize != size
      data
    end
  end

  # The context object handlers get, with the methods of AWS's Ruby runtime.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
                :function_name, :memory_limit_in_mb, :function_version, :identity,
                :client_context, :deadline_ms

    def initialize(invocation)
      @aws_request_id = invocation['requestId']
      @invoked_function_arn = invocation['invokedFunctionArn']
      @deadline_ms = invocation['deadlineMs'].to_i
      @identity = ServerfulRuntime.parse_json_header(invocation['cognitoIdentity'])
      @client_context = ServerfulRuntime.parse_json_header(invocation['clientContext'])
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
    end

    def get_remaining_time_in_millis
      remaining = @deadline_ms - Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
      remaining > 0 ? remaining : 0
    end
  end

  # A handler that names no method or class, reported as AWS's runtime reports calling
  # one (`NoMethodError`, `NameError`). Not those classes themselves: on Ruby 3.1 their
  # messages would quote the bootstrap's own code.
  class HandlerNotFound < StandardError
    attr_reader :type_name

    def initialize(message, type_name)
      super(message)
      @type_name = type_name
    end
  end

  # `Logger` output on standard output or error in the format of AWS's Ruby runtime:
  # `I, [2024-01-01T00:00:00.000000 #8]  INFO 0123-request-id -- : message`.
  class LogFormatter
    def call(severity, time, progname, message)
      text = case message
             when String then message
             when Exception then "#{message.message} (#{message.class})\n#{(message.backtrace || []).join("\n")}"
             else message.inspect
             end
      format("%s, [%s #%d] %5s %s -- %s: %s\n", severity[0, 1], time.strftime('%Y-%m-%dT%H:%M:%S.%6N'),
             Process.pid, severity, ServerfulRuntime.request_id, progname, text)
    end
  end

  # New loggers writing to standard output or error get the formatter above, unless the
  # code chose one.
  module LoggerDefaults
    def initialize(*args, &block)
      super
      device = args.first
      if formatter.nil? && (device.equal?($stdout) || device.equal?($stderr) ||
                            device.equal?(STDOUT) || device.equal?(STDERR))
        self.formatter = LogFormatter.new
      end
    end
    ruby2_keywords(:initialize) if respond_to?(:ruby2_keywords, true)
  end

  def self.parse_json_header(value)
    return nil if value.nil? || value.empty?
    JSON.parse(value)
  rescue JSON::ParserError
    nil
  end

  # The handler as `[receiver, method name]`, from `file.method` (a top-level method of
  # `file.rb`) or `file.Module::Class.method` (a class method).
  def self.load_handler(task_root, handler)
    parts = handler.split('.')
    unless (parts.size == 2 || parts.size == 3) && parts.none?(&:empty?)
      raise ArgumentError, "Bad handler '#{handler}': a Ruby handler is FILE.METHOD or FILE.CLASS.METHOD, " \
                           'where FILE.rb is a file in the code folder, METHOD a method defined at its top level ' \
                           '(or a class method of CLASS, which may be nested: Module::Class)'
    end
    file = parts.first
    method_name = parts.last
    # The code's own file, even when a library of the same name is loaded already.
    local = File.join(task_root, file)
    require(File.file?("#{local}.rb") ? local : file)
    if parts.size == 3
      begin
        receiver = Object.const_get(parts[1])
      rescue NameError => e
        # A NameError from code an autoload ran is the code's own.
        raise unless parts[1].split('::').include?(e.name.to_s)
        raise HandlerNotFound.new("Handler '#{handler}': #{file}.rb defines no class or module #{parts[1]}", 'NameError')
      end
      unless receiver.respond_to?(method_name, true)
        raise HandlerNotFound.new("Handler '#{handler}': #{parts[1]} has no class method '#{method_name}'",
                                  'NoMethodError')
      end
    else
      receiver = TOPLEVEL_BINDING.receiver
      unless receiver.respond_to?(method_name, true)
        raise HandlerNotFound.new("Handler '#{handler}': #{file}.rb defines no method '#{method_name}'", 'NoMethodError')
      end
    end
    [receiver, method_name.to_sym]
  end

  # Lambda's error object: the class inside the phase (`Init<LoadError>`,
  # `Function<ArgumentError>`), the message and the stack below the bootstrap.
  def self.error_body(error, phase)
    type = error.is_a?(HandlerNotFound) ? error.type_name : error.class.to_s
    frames = (error.backtrace || []).take_while { |line| !line.start_with?(__FILE__) }
    # The bootstrap's own `require` of the handler's file goes through RubyGems.
    frames.pop while frames.last && (frames.last.start_with?('<internal:') || frames.last.include?('/rubygems/'))
    {
      'errorMessage' => utf8(error.message),
      'errorType' => utf8("#{phase}<#{type}>"),
      'stackTrace' => frames.first(MAX_FRAMES).map { |frame| utf8(frame) }
    }
  end

  # Text that JSON can carry whatever bytes the code put in it.
  def self.utf8(text)
    text = text.to_s
    if text.encoding == Encoding::BINARY
      text.dup.force_encoding(Encoding::UTF_8).scrub
    else
      text.encode(Encoding::UTF_8, invalid: :replace, undef: :replace)
    end
  end

  # The bootstrap's own lines go to the process's standard output even if the code
  # redirected `$stdout`.
  def self.log_error(heading, body)
    STDOUT.puts(heading)
    STDOUT.puts(JSON.pretty_generate(body))
  end

  def self.post_error(channel, kind, request_id, body)
    channel.send_frame(kind, request_id, JSON.generate(body))
  end

  # The answer to post for a handler's result: an IO is sent as it is, anything else as
  # its JSON.
  def self.marshal(result)
    if result.is_a?(IO) || result.is_a?(StringIO)
      result.read.to_s
    else
      result.to_json
    end
  end

  def self.invoke(channel, receiver, method_name, header, payload)
    invocation = JSON.parse(header)
    request_id = invocation['requestId']
    self.request_id = request_id
    trace_id = invocation['traceId']
    if trace_id && !trace_id.empty?
      ENV['_X_AMZN_TRACE_ID'] = trace_id
    else
      ENV.delete('_X_AMZN_TRACE_ID')
    end
    begin
      event = JSON.parse(payload.force_encoding(Encoding::UTF_8))
    rescue JSON::ParserError => e
      body = error_body(e, 'Runtime')
      log_error('Unable to parse the event', body)
      post_error(channel, Channel::ERROR, request_id, body)
      return
    end
    begin
      result = receiver.__send__(method_name, event: event, context: LambdaContext.new(invocation))
      answer = marshal(result)
    rescue SignalException
      raise
    rescue StandardError => e
      body = error_body(e, 'Function')
      log_error('Error raised from handler method', body)
      post_error(channel, Channel::ERROR, request_id, body)
      return
    rescue Exception => e
      # `exit`, a failed `require`, no memory: the invocation fails and, as on AWS, the
      # process ends with it.
      body = error_body(e, 'Function')
      log_error('Critical exception from handler', body)
      post_error(channel, Channel::ERROR, request_id, body)
      exit(e.is_a?(SystemExit) ? e.status : 1)
    end
    channel.send_frame(Channel::RESPONSE, request_id, answer)
  end

  def self.main
    channel = Channel.new(ENV['AWS_LAMBDA_RUNTIME_API'] || '127.0.0.1:9001')
    task_root = ENV['LAMBDA_TASK_ROOT'] || Dir.pwd
    handler = ENV['_HANDLER'] || ''
    ::Logger.prepend(LoggerDefaults) if defined?(::Logger)
    begin
      receiver, method_name = load_handler(task_root, handler)
    rescue Exception => e
      # Anything the code raises while it loads (a `LoadError`, a `SyntaxError`, an
      # `exit`) is an init error, as on AWS.
      raise if e.is_a?(SignalException)
      body = error_body(e, 'Init')
      log_error("Init error when loading handler #{handler}", body)
      post_error(channel, Channel::INIT_ERROR, '', body)
      exit(1)
    end
    channel.send_frame(Channel::NEXT)
    loop do
      kind, header, payload = channel.receive
      unless kind == Channel::EVENT
        STDERR.puts("Serverful runtime channel: unexpected frame #{kind.inspect}")
        exit(1)
      end
      invoke(channel, receiver, method_name, header, payload)
    end
  end
end

# AWS's runtime names its context class `LambdaContext` at the top level.
LambdaContext = ServerfulRuntime::LambdaContext unless defined?(LambdaContext)

ServerfulRuntime.main
