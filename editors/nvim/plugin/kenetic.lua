-- :Kenetic, and what kenetic adds to a buffer its client attaches to (inline suggestions, command
-- episodes). The server itself is configured in lsp/kenetic.lua and started by
-- vim.lsp.enable('kenetic') (or require('kenetic').setup{}).

if vim.g.loaded_kenetic then
  return
end
vim.g.loaded_kenetic = true

vim.api.nvim_create_user_command('Kenetic', function(opts)
  require('kenetic.commands').run(opts)
end, {
  nargs = '*',
  desc = 'kenetic: skills, skill ID, apply [ID], next, freeze, new, agent [TASK], cancel, stats, train',
  complete = function(arglead, cmdline)
    return require('kenetic.commands').complete(arglead, cmdline)
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
    if kenetic.config.episodes and not vim.g.kenetic_episodes then
      vim.g.kenetic_episodes = true
      require('kenetic.episodes').setup()
    end
  end,
})
