-- Command episodes: the exits of :!cmd (source terminal), :make (source task) and terminal jobs
-- (source terminal) go to the server as the `kenetic/didRunCommand` notification. The server
-- decides what to keep.

local kenetic = require('kenetic')

local M = {}

local group = vim.api.nvim_create_augroup('kenetic.episodes', { clear = true })
local make_started = {} ---@type table<string, number>
local term_started = {} ---@type table<integer, {t0: number, command: string|nil}>

--- The kenetic client whose workspace holds `cwd` (the server files the command there).
local function client_for(cwd)
  local best, best_len = nil, -1
  for _, client in ipairs(vim.lsp.get_clients({ name = 'kenetic' })) do
    for _, folder in ipairs(client.workspace_folders or {}) do
      local root = vim.uri_to_fname(folder.uri)
      if (cwd == root or vim.startswith(cwd, root .. '/')) and #root > best_len then
        best, best_len = client, #root
      end
    end
    best = best or client
  end
  return best
end

---@param params {command: string, cwd?: string, exitCode?: integer, durationMs?: number, source: string}
function M.send(params)
  if not params.command or vim.trim(params.command) == '' then
    return
  end
  params.cwd = params.cwd or vim.fn.getcwd()
  local client = client_for(params.cwd)
  if client then
    client:notify('kenetic/didRunCommand', params)
  end
end

--- The shell command of the last command line (`:!ls`, `:'<,'>!sort`, `:r !date`), else nil.
local function last_shell_command()
  local line = vim.fn.histget(':', -1)
  local cmd = line:gsub("^[%s%d,.$'<>%%+-]*", '', 1)
  local shell = cmd:match('^!(.*)$') or cmd:match('^r%a*%s*!(.*)$') or cmd:match('^w%a*%s*!(.*)$')
  if shell and vim.trim(shell) ~= '' and shell ~= '!' then
    return vim.trim(shell)
  end
end

local function now_ms()
  return vim.uv.hrtime() / 1e6
end

function M.setup()
  vim.api.nvim_clear_autocmds({ group = group })

  vim.api.nvim_create_autocmd({ 'ShellCmdPost', 'ShellFilterPost' }, {
    group = group,
    desc = 'kenetic: forward the exit of :!cmd',
    callback = function()
      local command = last_shell_command()
      if command then
        M.send({ command = command, exitCode = vim.v.shell_error, source = 'terminal' })
      end
    end,
  })

  vim.api.nvim_create_autocmd('QuickFixCmdPre', {
    group = group,
    pattern = { 'make', 'lmake' },
    callback = function(ev)
      make_started[ev.match] = now_ms()
    end,
  })
  vim.api.nvim_create_autocmd('QuickFixCmdPost', {
    group = group,
    pattern = { 'make', 'lmake' },
    desc = 'kenetic: forward the exit of :make',
    callback = function(ev)
      local line = vim.fn.histget(':', -1)
      local args = line:match('^%s*l?make?!?%s+(.*)$') or ''
      local t0 = make_started[ev.match]
      make_started[ev.match] = nil
      M.send({
        command = vim.trim(vim.o.makeprg .. ' ' .. args),
        exitCode = vim.v.shell_error,
        durationMs = t0 and math.floor(now_ms() - t0) or nil,
        source = 'task',
      })
    end,
  })

  vim.api.nvim_create_autocmd('TermOpen', {
    group = group,
    callback = function(ev)
      local ok, info = pcall(vim.api.nvim_get_chan_info, vim.bo[ev.buf].channel)
      local argv = ok and info.argv or {}
      local command
      if #argv >= 3 and argv[#argv - 1] == vim.o.shellcmdflag then
        command = argv[#argv] -- `:terminal make test` runs {shell, '-c', 'make test'}
      elseif #argv > 0 then
        command = table.concat(argv, ' ')
      end
      term_started[ev.buf] = { t0 = now_ms(), command = command }
    end,
  })
  vim.api.nvim_create_autocmd('TermClose', {
    group = group,
    desc = 'kenetic: forward the exit of a terminal job',
    callback = function(ev)
      -- term://{cwd}//{pid}:{cmd}
      local name = vim.api.nvim_buf_get_name(ev.buf)
      local cwd, cmd = name:match('^term://(.-)//%d+:(.*)$')
      local started = term_started[ev.buf] or {}
      local t0 = started.t0
      term_started[ev.buf] = nil
      local status = vim.v.event and vim.v.event.status
      M.send({
        command = started.command or cmd or name,
        cwd = cwd and vim.fn.fnamemodify(vim.fn.expand(cwd), ':p'):gsub('/$', '') or nil,
        exitCode = status,
        durationMs = t0 and math.floor(now_ms() - t0) or nil,
        source = 'terminal',
      })
    end,
  })
end

return M
