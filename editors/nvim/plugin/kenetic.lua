-- :Kenetic, and what kenetic adds to a buffer its client attaches to (inline suggestions, command
-- episodes). The server itself is configured in lsp/kenetic.lua and started by
-- vim.lsp.enable('kenetic') (or require('kenetic').setup{}).

if vim.g.loaded_kenetic then
  return
end
vim.g.loaded_kenetic = true

-- :help kenetic needs doc/tags (shipped); when it is missing and the directory is writable,
-- generate it (E149 otherwise)
do
  local doc = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:gsub('^@', ''), ':p:h:h') .. '/doc'
  if vim.fn.filereadable(doc .. '/tags') == 0 and vim.fn.filewritable(doc) == 2 then
    pcall(vim.cmd.helptags, vim.fn.fnameescape(doc))
  end
end

vim.api.nvim_create_user_command('Kenetic', function(opts)
  require('kenetic.commands').run(opts)
end, {
  nargs = '*',
  bang = true,
  desc = 'kenetic: next, why, toggle[!], acceptAllInFile, acceptAll, skills, skill ID, apply [ID], export [ID], '
    .. 'freeze, new, agent [TASK], cancel, stats, train',
  complete = function(arglead, cmdline)
    return require('kenetic.commands').complete(arglead, cmdline)
  end,
})

vim.api.nvim_create_user_command('KeneticExportSkill', function(opts)
  require('kenetic.commands').export(opts.args)
end, {
  nargs = '*',
  desc = 'kenetic: export a skill as an ast-grep or semgrep rule ([ID [FORMAT [DIR]]])',
  complete = function(arglead, cmdline)
    if #vim.split(cmdline, '%s+', { trimempty = true }) <= 2 then
      return require('kenetic.commands').complete_skill_ids(arglead)
    end
    return vim.tbl_filter(function(f)
      return vim.startswith(f, arglead)
    end, { 'ast-grep', 'semgrep' })
  end,
})

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('kenetic.attach', { clear = true }),
  desc = 'kenetic: inline suggestions and command episodes',
  callback = function(ev)
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    if not client or client.name ~= 'kenetic' then
      return
    end
    local kenetic = require('kenetic')
    require('kenetic.inline').attach(ev.buf, client)
    local nextedit = require('kenetic.nextedit')
    nextedit.attach(ev.buf)
    if not vim.g.kenetic_keys then
      vim.g.kenetic_keys = true
      nextedit.map_keys()
    end
    if kenetic.config.episodes and not vim.g.kenetic_episodes then
      vim.g.kenetic_episodes = true
      require('kenetic.episodes').setup()
    end
  end,
})

-- $/progress of the kenetic server (mining skills, training the ranker) for status(); Neovim
-- itself keeps it for vim.lsp.status()
vim.api.nvim_create_autocmd('LspProgress', {
  group = vim.api.nvim_create_augroup('kenetic.progress', { clear = true }),
  callback = function(ev)
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    if not client or client.name ~= 'kenetic' then
      return
    end
    local value = ev.data.params and ev.data.params.value or {}
    local kenetic = require('kenetic')
    if value.kind == 'end' then
      kenetic.progress = nil
    elseif value.kind == 'begin' then
      kenetic.progress = { title = value.title, message = value.message, percentage = value.percentage }
    elseif kenetic.progress then
      kenetic.progress.message = value.message or kenetic.progress.message
      kenetic.progress.percentage = value.percentage or kenetic.progress.percentage
    end
    pcall(vim.cmd.redrawstatus)
  end,
})

-- the server's window/showMessage: remembered, so an error answer repeating it is not shown twice;
-- a warning (a setting to change, such as no LLM provider) goes through vim.notify at WARN, where
-- Neovim's own handler would only write it to :messages
local show_message = vim.lsp.handlers['window/showMessage']
vim.lsp.handlers['window/showMessage'] = function(err, params, ctx, ...)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client and client.name == 'kenetic' and params and params.message then
    require('kenetic').shown[params.message] = vim.uv.now()
    if params.type == vim.lsp.protocol.MessageType.Warning then
      vim.notify(params.message, vim.log.levels.WARN, { title = 'kenetic' })
      return vim.NIL
    end
  end
  return show_message(err, params, ctx, ...)
end

-- vim.lsp.enable('kenetic') with no `kenetic` to start attaches nothing: say so, once
vim.api.nvim_create_autocmd('FileType', {
  group = vim.api.nvim_create_augroup('kenetic.cmd', { clear = true }),
  callback = function(ev)
    if vim.g.kenetic_cmd_checked or not vim.lsp.is_enabled or not vim.lsp.is_enabled('kenetic') then
      return
    end
    local config = vim.lsp.config.kenetic or {}
    if not vim.list_contains(config.filetypes or {}, ev.match) then
      return
    end
    vim.g.kenetic_cmd_checked = true
    local cmd = config.cmd
    if type(cmd) == 'table' and cmd[1] and vim.fn.executable(cmd[1]) == 0 then
      require('kenetic').notify(
        ('`%s` not found, so the server does not start: pip install kenetic, or '
          .. "require('kenetic').setup{ cmd = { '/path/to/venv/bin/kenetic', 'serve' } } (:checkhealth kenetic)"):format(cmd[1]),
        vim.log.levels.WARN
      )
    end
  end,
})
